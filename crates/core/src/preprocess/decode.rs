//! Decoding image files natively (the browser decodes by itself): JPEG, PNG, WebP, GIF
//! (first frame) and BMP, EXIF orientation applied, and a pixel limit checked from the
//! header before anything large is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{Error, Result};

/// Largest image we decode: 100 megapixels (a 30000×30000 PNG compresses to a few hundred
/// kilobytes but would need 2.7 GB decoded).
pub const MAX_PIXELS: u64 = 100_000_000;

/// A decoded image as 8-bit RGB.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pub width: u32,
    pub height: u32,
    /// RGB, row-major.
    pub rgb: Vec<u8>,
}

/// Decodes an image file's bytes to upright 8-bit RGB.
pub fn decode_image(bytes: &[u8]) -> Result<DecodedImage> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(format!("cannot read the image: {e}")))?;
    if reader.format().is_none() {
        return Err(Error::Image(
            "not an image (or a format we do not read: JPEG, PNG, WebP, GIF and BMP are supported)"
                .into(),
        ));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 8);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| Error::Image(format!("cannot decode the image: {e}")))?;
    let (width, height) = decoder.dimensions();
    let pixels = width as u64 * height as u64;
    if pixels > MAX_PIXELS {
        return Err(Error::Image(format!(
            "the image is {width}×{height} ({} megapixels); the limit is {} megapixels",
            pixels / 1_000_000,
            MAX_PIXELS / 1_000_000
        )));
    }
    decoder
        .set_limits(limits)
        .map_err(|e| Error::Image(format!("cannot decode the image: {e}")))?;
    let orientation = decoder
        .orientation()
        .map_err(|e| Error::Image(format!("cannot read the image's orientation: {e}")))?;
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| Error::Image(format!("cannot decode the image: {e}")))?;
    image.apply_orientation(orientation);
    let rgb = image.to_rgb8();
    Ok(DecodedImage {
        width: rgb.width(),
        height: rgb.height(),
        rgb: rgb.into_raw(),
    })
}
