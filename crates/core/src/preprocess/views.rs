//! Testing with more than the centre crop: torchvision's `Resize(256)` then `TenCrop(224)`
//! (four corners and the centre, and the same five of the horizontally flipped image), or
//! the whole image with its short side resized to 256 and no crop (the global average pool
//! makes any size work). The network's softmax outputs over the views are averaged.

use super::{
    CROP_SIZE, InputConvention, PixelBuffer, center_offset, normalize_crop, resample_region,
    resized_size, rgb_bytes, source_box,
};
use crate::error::{Error, Result};

/// Which views of a photo the network sees (shared with the page through the protocol).
pub use resnet_lab_protocol::Crops;

/// Longest side, after `Resize(256)`, that full-image testing accepts: 8:1. A 100:1
/// panorama would become 25600×256 and need gigabytes of activations; ten crops or the
/// centre crop work for any shape.
pub const MAX_FULL_SIDE: u32 = 2048;

/// One view in the resized image: its top-left corner and whether it is mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropPosition {
    pub left: u32,
    pub top: u32,
    pub flipped: bool,
}

/// The ten crops of a `resized_w`×`resized_h` image in torchvision's order: top-left,
/// top-right, bottom-left, bottom-right, centre, then the same five taken from the mirrored
/// image, given here as the original image's region that is mirrored afterwards.
pub fn ten_crop_positions(resized_w: u32, resized_h: u32) -> [CropPosition; 10] {
    let c = CROP_SIZE as u32;
    let (right, bottom) = (resized_w - c, resized_h - c);
    let (center_left, center_top) = (center_offset(resized_w, c), center_offset(resized_h, c));
    let at = |left, top, flipped| CropPosition { left, top, flipped };
    [
        at(0, 0, false),
        at(right, 0, false),
        at(0, bottom, false),
        at(right, bottom, false),
        at(center_left, center_top, false),
        // In the mirrored image, left x covers the original's columns W-x-224 .. W-x.
        at(right, 0, true),
        at(0, 0, true),
        at(right, bottom, true),
        at(0, bottom, true),
        // The centre offset rounds half to even in the mirrored image too, so for an odd
        // margin it is one column away from the unmirrored centre crop.
        at(right - center_left, center_top, true),
    ]
}

/// A view's pixels: RGB8, HWC.
#[derive(Debug, Clone)]
pub struct ViewPixels {
    pub rgb: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

/// The 8-bit images torchvision would hand to `ToTensor` for `crops`.
pub fn view_pixels(image: &PixelBuffer, crops: Crops) -> Result<Vec<ViewPixels>> {
    let (w, h) = (image.width, image.height);
    let (new_w, new_h) = resized_size(w, h);
    match crops {
        Crops::Center => Ok(vec![ViewPixels {
            rgb: super::resize_and_crop(image)?,
            width: CROP_SIZE,
            height: CROP_SIZE,
        }]),
        Crops::Full => {
            if new_w.max(new_h) > MAX_FULL_SIDE {
                return Err(Error::Image(format!(
                    "the {w}×{h} image would be {new_w}×{new_h} for full-image testing; the \
                     limit is {MAX_FULL_SIDE} pixels on the long side (use the centre or ten crops)"
                )));
            }
            let source = source_box(w, h, (0, 0, new_w, new_h));
            Ok(vec![ViewPixels {
                rgb: resample_region(&rgb_bytes(image), w, h, source, (new_w, new_h))?,
                width: new_w as usize,
                height: new_h as usize,
            }])
        }
        Crops::Ten => crops_at(image, &ten_crop_positions(new_w, new_h)),
    }
}

/// 224×224 crops of the `Resize(256)` image at `positions` (each mirrored afterwards when
/// it says so): ten-crop testing's views and training's random crops.
pub fn crops_at(image: &PixelBuffer, positions: &[CropPosition]) -> Result<Vec<ViewPixels>> {
    let rgb = rgb_bytes(image);
    let (w, h) = (image.width, image.height);
    let side = CROP_SIZE as u32;
    positions
        .iter()
        .map(|p| {
            let source = source_box(w, h, (p.left, p.top, side, side));
            let mut rgb = resample_region(&rgb, w, h, source, (side, side))?;
            if p.flipped {
                mirror(&mut rgb, CROP_SIZE);
            }
            Ok(ViewPixels {
                rgb,
                width: CROP_SIZE,
                height: CROP_SIZE,
            })
        })
        .collect()
}

/// Mirrors an RGB8 image left to right, in place.
fn mirror(rgb: &mut [u8], width: usize) {
    for row in rgb.chunks_exact_mut(width * 3) {
        for x in 0..width / 2 {
            let (a, b) = (x * 3, (width - 1 - x) * 3);
            for c in 0..3 {
                row.swap(a + c, b + c);
            }
        }
    }
}

/// One network input, `[3, height, width]`, channel-major.
#[derive(Debug, Clone)]
pub struct View {
    pub values: Vec<f32>,
    pub height: usize,
    pub width: usize,
}

/// The normalised network inputs for `crops`.
pub fn preprocess_views(
    image: &PixelBuffer,
    convention: InputConvention,
    crops: Crops,
) -> Result<Vec<View>> {
    Ok(view_pixels(image, crops)?
        .iter()
        .map(|v| View::normalized(v, convention))
        .collect())
}

impl View {
    /// A view's pixels as the network's input.
    pub fn normalized(pixels: &ViewPixels, convention: InputConvention) -> Self {
        View {
            values: normalize_crop(&pixels.rgb, convention),
            height: pixels.height,
            width: pixels.width,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_crop_positions_follow_torchvision_arithmetic() {
        // 500×375 → 341×256: margins 117 and 32; the centre crop's left is round(58.5) = 58,
        // and in the mirrored image also 58, i.e. original columns 59..283.
        let p = ten_crop_positions(341, 256);
        let lt = |i: usize| (p[i].left, p[i].top, p[i].flipped);
        assert_eq!(lt(0), (0, 0, false));
        assert_eq!(lt(1), (117, 0, false));
        assert_eq!(lt(2), (0, 32, false));
        assert_eq!(lt(3), (117, 32, false));
        assert_eq!(lt(4), (58, 16, false));
        assert_eq!(lt(5), (117, 0, true));
        assert_eq!(lt(6), (0, 0, true));
        assert_eq!(lt(9), (59, 16, true));
    }

    #[test]
    fn mirroring_reverses_each_row() {
        let mut rgb: Vec<u8> = (0..18).collect(); // 3×2 pixels
        mirror(&mut rgb, 3);
        assert_eq!(
            rgb,
            [6, 7, 8, 3, 4, 5, 0, 1, 2, 15, 16, 17, 12, 13, 14, 9, 10, 11]
        );
    }

    #[test]
    fn full_image_keeps_the_aspect_and_refuses_extreme_panoramas() {
        let pixels = vec![7u8; 500 * 375 * 3];
        let img = PixelBuffer::new(500, 375, 3, &pixels).unwrap();
        let views = view_pixels(&img, Crops::Full).unwrap();
        assert_eq!((views[0].width, views[0].height), (341, 256));
        assert_eq!(view_pixels(&img, Crops::Ten).unwrap().len(), 10);
        let pixels = vec![7u8; 900 * 100 * 3];
        let wide = PixelBuffer::new(900, 100, 3, &pixels).unwrap();
        assert!(view_pixels(&wide, Crops::Full).is_err());
        assert_eq!(view_pixels(&wide, Crops::Ten).unwrap().len(), 10);
    }
}
