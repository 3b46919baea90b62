//! Training-time augmentation, as torchvision's `Resize(256)`, `RandomCrop(224)`,
//! `RandomHorizontalFlip()` compose it: a 224×224 crop at a uniformly drawn position of the
//! resized image, mirrored with probability ½.
//!
//! The positions come from a seeded RNG per photo, and the k-th view of a photo does not
//! depend on how many views are asked for, so features computed for 2 views are the first 2
//! of 4 (the page asks for more views of a photo without recomputing the first ones).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::views::{CropPosition, View, ViewPixels, crops_at};
use super::{CROP_SIZE, InputConvention, PixelBuffer, resized_size};
use crate::error::{Error, Result};

/// Most augmented views of one photo anyone asks for (each costs a forward pass).
pub const MAX_AUGMENT: usize = 32;

/// The first `count` random crop positions of a `resized_w`×`resized_h` image (after
/// `Resize(256)`, so both sides are at least 256) for a photo whose RNG seed is `seed`.
///
/// As torchvision's `RandomCrop.get_params`: top uniform in `0..=h-224`, left uniform in
/// `0..=w-224`; then `RandomHorizontalFlip`: mirrored when a uniform draw is below ½.
pub fn random_crop_positions(
    resized_w: u32,
    resized_h: u32,
    seed: u64,
    count: usize,
) -> Vec<CropPosition> {
    let side = CROP_SIZE as u32;
    let (max_left, max_top) = (
        resized_w.saturating_sub(side),
        resized_h.saturating_sub(side),
    );
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let top = rng.random_range(0..=max_top);
            let left = rng.random_range(0..=max_left);
            let flipped = rng.random_bool(0.5);
            CropPosition { left, top, flipped }
        })
        .collect()
}

/// The RNG seed of the photo at `index` of a run seeded with `seed` (SplitMix64's mixer, so
/// neighbouring photos and seeds get unrelated streams).
pub fn photo_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x6a09_e667_f3bc_c909);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 8-bit pixels of `count` augmented views of `image` (RNG seeded with `seed`).
pub fn augmented_pixels(image: &PixelBuffer, seed: u64, count: usize) -> Result<Vec<ViewPixels>> {
    if count > MAX_AUGMENT {
        return Err(Error::Input(format!(
            "{count} augmented views per photo: at most {MAX_AUGMENT}"
        )));
    }
    let (w, h) = resized_size(image.width, image.height);
    crops_at(image, &random_crop_positions(w, h, seed, count))
}

/// The normalised network inputs of `count` augmented views of `image`.
pub fn augmented_views(
    image: &PixelBuffer,
    convention: InputConvention,
    seed: u64,
    count: usize,
) -> Result<Vec<View>> {
    Ok(augmented_pixels(image, seed, count)?
        .iter()
        .map(|v| View::normalized(v, convention))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand check of the geometry: every drawn box is 224×224 and lies inside the resized
    /// image; every offset from 0 to the margin is drawn (uniform, both ends included); about
    /// half the views are mirrored.
    #[test]
    fn drawn_crops_lie_inside_the_resized_image_and_cover_every_offset() {
        // 256×256 (a square photo), 341×256 (dog.jpg), 256×1920 (a tall panorama).
        for (w, h) in [(256u32, 256u32), (341, 256), (256, 1920)] {
            let draws = random_crop_positions(w, h, 7, 4000);
            let (margin_x, margin_y) = (w - 224, h - 224);
            for p in &draws {
                assert!(p.left + 224 <= w && p.top + 224 <= h, "{w}×{h}: {p:?}");
            }
            let lefts: std::collections::HashSet<u32> = draws.iter().map(|p| p.left).collect();
            let tops: std::collections::HashSet<u32> = draws.iter().map(|p| p.top).collect();
            // Margins of up to 117: 4000 draws miss an offset with probability < 1e-12.
            if margin_x < 200 {
                assert_eq!(
                    lefts.len() as u32,
                    margin_x + 1,
                    "{w}×{h}: every left offset"
                );
            }
            if margin_y < 200 {
                assert_eq!(tops.len() as u32, margin_y + 1, "{w}×{h}: every top offset");
            } else {
                // 1697 offsets: both ends reached within 20 (each missed with p ≈ e^-47).
                assert!(
                    tops.iter().min() <= Some(&20) && tops.iter().max() >= Some(&(margin_y - 20))
                );
            }
            let flipped = draws.iter().filter(|p| p.flipped).count();
            // Binomial(4000, ½): σ ≈ 32; 5σ either side.
            assert!(
                (1840..=2160).contains(&flipped),
                "{flipped} of 4000 mirrored"
            );
        }
    }

    #[test]
    fn the_kth_view_does_not_depend_on_how_many_are_asked_for() {
        let four = random_crop_positions(341, 256, 3, 4);
        assert_eq!(random_crop_positions(341, 256, 3, 2), four[..2]);
        assert_ne!(random_crop_positions(341, 256, 4, 4), four);
        assert_ne!(photo_seed(0, 0), photo_seed(0, 1));
        assert_ne!(photo_seed(0, 1), photo_seed(1, 0));
    }

    #[test]
    fn views_are_224_square_and_too_many_are_refused() {
        let pixels = vec![9u8; 500 * 375 * 3];
        let img = PixelBuffer::new(500, 375, 3, &pixels).unwrap();
        let views = augmented_pixels(&img, 1, 3).unwrap();
        assert_eq!(views.len(), 3);
        for v in &views {
            assert_eq!((v.width, v.height, v.rgb.len()), (224, 224, 224 * 224 * 3));
        }
        assert!(augmented_pixels(&img, 1, MAX_AUGMENT + 1).is_err());
        assert!(augmented_pixels(&img, 1, 0).unwrap().is_empty());
    }
}
