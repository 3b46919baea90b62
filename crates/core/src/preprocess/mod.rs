//! From pixels to the tensor a ResNet expects, exactly as torchvision's evaluation
//! transform does it:
//!
//! `Resize(256)` (short side to 256, antialiased bilinear as PIL does), `CenterCrop(224)`,
//! then the normalisation the weights were trained with.
//!
//! The resize and the crop are done in one step: only the source region that lands in the
//! 224×224 crop is resampled (with PIL's filter support, which reaches past the crop edge),
//! so a 10000×40 panorama costs no more memory than a square photo.

pub mod augment;
#[cfg(feature = "decode")]
pub mod decode;
pub mod views;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest image anyone decodes, natively or in the browser: 100 megapixels (a 30000×30000
/// PNG compresses to a few hundred kilobytes but would need 2.7 GB as RGB, 3.6 GB as RGBA).
pub const MAX_IMAGE_PIXELS: u64 = 100_000_000;

/// Side of the square the network sees.
pub const CROP_SIZE: usize = 224;
/// The short side is resized to this before the centre crop.
pub const RESIZE_SHORT_SIDE: usize = 256;

/// How the weights expect their input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputConvention {
    /// torchvision: RGB scaled to [0, 1], minus the ImageNet mean, over the ImageNet std.
    Torchvision,
    /// Caffe / Keras ResNet50: BGR in [0, 255] minus the per-channel ImageNet means.
    CaffeBgr,
}

impl InputConvention {
    pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
    /// Caffe's means in B, G, R order.
    pub const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];

    /// One line for people: what the network is fed.
    pub fn describe(self) -> &'static str {
        match self {
            InputConvention::Torchvision => "RGB / 255, normalised with ImageNet mean and std",
            InputConvention::CaffeBgr => "BGR in 0..255 minus the Caffe ImageNet means",
        }
    }

    /// Normalises an 8-bit RGB pixel into the channel order and scale of this convention.
    fn normalize(self, rgb: [u8; 3]) -> [f32; 3] {
        match self {
            InputConvention::Torchvision => std::array::from_fn(|c| {
                (rgb[c] as f32 / 255.0 - Self::IMAGENET_MEAN[c]) / Self::IMAGENET_STD[c]
            }),
            InputConvention::CaffeBgr => {
                std::array::from_fn(|c| rgb[2 - c] as f32 - Self::CAFFE_MEAN_BGR[c])
            }
        }
    }
}

/// An 8-bit image in memory: RGB or RGBA (alpha is dropped, as PIL's `convert("RGB")` does).
#[derive(Debug, Clone, Copy)]
pub struct PixelBuffer<'a> {
    pub width: u32,
    pub height: u32,
    /// 3 (RGB) or 4 (RGBA).
    pub channels: u8,
    pub pixels: &'a [u8],
}

impl<'a> PixelBuffer<'a> {
    /// Checks that the buffer is as large as its dimensions say.
    pub fn new(width: u32, height: u32, channels: u8, pixels: &'a [u8]) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::Image("the image has no pixels".into()));
        }
        if channels != 3 && channels != 4 {
            return Err(Error::Image(format!(
                "expected RGB or RGBA pixels, got {channels} channels"
            )));
        }
        let needed = width as usize * height as usize * channels as usize;
        if pixels.len() != needed {
            return Err(Error::Image(format!(
                "a {width}×{height} image with {channels} channels needs {needed} bytes, got {}",
                pixels.len()
            )));
        }
        Ok(Self {
            width,
            height,
            channels,
            pixels,
        })
    }
}

/// The size torchvision's `Resize(256)` gives a `width`×`height` image: the short side
/// becomes 256 and the long side is truncated, `int(256 * long / short)`.
pub fn resized_size(width: u32, height: u32) -> (u32, u32) {
    let short = RESIZE_SHORT_SIDE as f64;
    let (w, h) = (width as f64, height as f64);
    if width <= height {
        (RESIZE_SHORT_SIDE as u32, (short * h / w).floor() as u32)
    } else {
        ((short * w / h).floor() as u32, RESIZE_SHORT_SIDE as u32)
    }
}

/// torchvision's `CenterCrop` offset: Python's `round()`, which rounds halves to even.
pub fn center_offset(resized: u32, crop: u32) -> u32 {
    ((resized as f64 - crop as f64) / 2.0).round_ties_even() as u32
}

/// A box in the resized image, `(left, top, width, height)` in resized pixels, mapped back
/// to source pixels (where the resampling reads).
pub fn source_box(
    width: u32,
    height: u32,
    resized_box: (u32, u32, u32, u32),
) -> (f64, f64, f64, f64) {
    let (new_w, new_h) = resized_size(width, height);
    let sx = width as f64 / new_w as f64;
    let sy = height as f64 / new_h as f64;
    let (left, top, w, h) = resized_box;
    let (x0, y0) = (left as f64 * sx, top as f64 * sy);
    // A box reaching the right or bottom edge must not pass it by a rounding error.
    let x1 = ((left + w) as f64 * sx).min(width as f64);
    let y1 = ((top + h) as f64 * sy).min(height as f64);
    (x0, y0, x1 - x0, y1 - y0)
}

/// Where torchvision's `Resize(256)` + `CenterCrop(224)` sample a `width`×`height` image:
/// the crop box in source pixels `(left, top, width, height)`.
pub fn center_crop_box(width: u32, height: u32) -> (f64, f64, f64, f64) {
    let (new_w, new_h) = resized_size(width, height);
    let crop = CROP_SIZE as u32;
    let (left, top) = (center_offset(new_w, crop), center_offset(new_h, crop));
    source_box(width, height, (left, top, crop, crop))
}

/// The image's RGB bytes (alpha dropped, as PIL's `convert("RGB")` does).
pub(crate) fn rgb_bytes<'a>(image: &PixelBuffer<'a>) -> std::borrow::Cow<'a, [u8]> {
    if image.channels == 4 {
        image
            .pixels
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect::<Vec<u8>>()
            .into()
    } else {
        image.pixels.into()
    }
}

/// Resamples the source region `source` (in source pixels) of an RGB8 image to
/// `out_w`×`out_h`, with PIL's antialiased bilinear filter. Only the region (and the filter's
/// reach around it) is read, so the whole resized image is never materialised.
pub(crate) fn resample_region(
    rgb: &[u8],
    width: u32,
    height: u32,
    source: (f64, f64, f64, f64),
    out: (u32, u32),
) -> Result<Vec<u8>> {
    let src = ImageRef::new(width, height, rgb, PixelType::U8x3)
        .map_err(|e| Error::Image(format!("bad pixel buffer: {e}")))?;
    let mut dst = Image::new(out.0, out.1, PixelType::U8x3);
    let (left, top, w, h) = source;
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .crop(left, top, w, h);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| Error::Image(format!("resizing failed: {e}")))?;
    Ok(dst.into_vec())
}

/// Resize + centre crop to 224×224 RGB, 8-bit (the image PIL would hand to `ToTensor`).
pub fn resize_and_crop(image: &PixelBuffer) -> Result<Vec<u8>> {
    let rgb = rgb_bytes(image);
    let side = CROP_SIZE as u32;
    let source = center_crop_box(image.width, image.height);
    resample_region(&rgb, image.width, image.height, source, (side, side))
}

/// The full evaluation transform: `[3, 224, 224]` values, channel-major, ready for the model.
pub fn preprocess(image: &PixelBuffer, convention: InputConvention) -> Result<Vec<f32>> {
    let crop = resize_and_crop(image)?;
    Ok(normalize_crop(&crop, convention))
}

/// Scales a 224×224 RGB8 crop down to `side`×`side` with an area (box) filter: the input of a
/// CIFAR-style network (32×32), so a lesson can show one on the visitor's photo.
pub fn shrink_crop(crop: &[u8], side: usize) -> Result<Vec<u8>> {
    let size = CROP_SIZE as u32;
    let src = ImageRef::new(size, size, crop, PixelType::U8x3)
        .map_err(|e| Error::Image(format!("bad crop: {e}")))?;
    let mut dst = Image::new(side as u32, side as u32, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Box));
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| Error::Image(format!("resizing failed: {e}")))?;
    Ok(dst.into_vec())
}

/// Normalises an RGB8 image (HWC: a 224×224 crop, or any size) into a `[3, H, W]` CHW
/// tensor.
pub fn normalize_crop(crop: &[u8], convention: InputConvention) -> Vec<f32> {
    let plane = crop.len() / 3;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in crop.chunks_exact(3).take(plane).enumerate() {
        let v = convention.normalize([px[0], px[1], px[2]]);
        for c in 0..3 {
            out[c * plane + i] = v[c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_a_crop_averages_each_7x7_cell() {
        // 224 = 7 × 32: every output pixel is the mean of one 7×7 cell. Cells are filled with
        // a per-cell value, except cell (0, 0), a checkerboard of 25 × 255 and 24 × 0.
        let mut crop = vec![0u8; 224 * 224 * 3];
        for y in 0..224 {
            for x in 0..224 {
                let (cx, cy) = (x / 7, y / 7);
                let v = if (cx, cy) == (0, 0) {
                    if (x + y) % 2 == 0 { 255 } else { 0 }
                } else {
                    ((cx * 7 + cy * 3) % 256) as u8
                };
                crop[(y * 224 + x) * 3..][..3].copy_from_slice(&[v, 255 - v, 9]);
            }
        }
        let small = shrink_crop(&crop, 32).unwrap();
        assert_eq!(small.len(), 32 * 32 * 3);
        let mean = 25.0 * 255.0 / 49.0; // 130.1
        assert!((small[0] as f64 - mean).abs() <= 1.0, "{}", small[0]);
        for cy in 0..32 {
            for cx in 0..32 {
                if (cx, cy) == (0, 0) {
                    continue;
                }
                let want = ((cx * 7 + cy * 3) % 256) as i32;
                let got = &small[(cy * 32 + cx) * 3..][..3];
                assert!((got[0] as i32 - want).abs() <= 1, "cell {cx},{cy}");
                assert!((got[1] as i32 - (255 - want)).abs() <= 1);
                assert_eq!(got[2], 9);
            }
        }
        let tensor = normalize_crop(&small, InputConvention::Torchvision);
        assert_eq!(tensor.len(), 3 * 32 * 32);
    }

    #[test]
    fn crop_box_follows_torchvision_arithmetic() {
        // 500×375 (landscape): resized to int(256*500/375) = 341 × 256; crop left =
        // round((341-224)/2) = round(58.5) = 58 (half to even), top = 16.
        let (l, t, w, h) = center_crop_box(500, 375);
        let s = 375.0 / 256.0;
        assert!((l - 58.0 * 500.0 / 341.0).abs() < 1e-9);
        assert!((t - 16.0 * s).abs() < 1e-9);
        assert!((w - 224.0 * 500.0 / 341.0).abs() < 1e-9);
        assert!((h - 224.0 * s).abs() < 1e-9);
    }

    #[test]
    fn caffe_convention_swaps_to_bgr_and_subtracts_means() {
        let v = InputConvention::CaffeBgr.normalize([10, 20, 30]);
        assert_eq!(v, [30.0 - 103.939, 20.0 - 116.779, 10.0 - 123.68]);
        let t = InputConvention::Torchvision.normalize([255, 0, 0]);
        assert!((t[0] - (1.0 - 0.485) / 0.229).abs() < 1e-6);
        assert!((t[1] - (-0.456 / 0.224)).abs() < 1e-6);
    }

    #[test]
    fn tiny_and_extreme_images_work() {
        for (w, h) in [(1, 1), (3, 200), (5000, 2), (224, 224)] {
            let pixels = vec![128u8; (w * h * 4) as usize];
            let img = PixelBuffer::new(w, h, 4, &pixels).unwrap();
            let out = preprocess(&img, InputConvention::Torchvision).unwrap();
            assert_eq!(out.len(), 3 * 224 * 224);
            // A uniform grey stays uniform grey: 128/255 normalised.
            let want = (128.0 / 255.0 - 0.485) / 0.229;
            assert!((out[0] - want).abs() < 1e-5, "{w}×{h}: {}", out[0]);
        }
    }

    #[test]
    fn wrong_buffer_sizes_are_refused() {
        assert!(PixelBuffer::new(2, 2, 3, &[0; 11]).is_err());
        assert!(PixelBuffer::new(0, 2, 3, &[]).is_err());
        assert!(PixelBuffer::new(1, 1, 2, &[0; 2]).is_err());
    }
}
