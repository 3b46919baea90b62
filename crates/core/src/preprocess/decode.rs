//! Decoding image files natively (the browser decodes by itself): JPEG, PNG, WebP, GIF
//! (first frame) and BMP, EXIF orientation applied, and a pixel limit checked from the
//! header before anything large is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::MAX_IMAGE_PIXELS;
use crate::error::{Error, Result};

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
    // The JPEG decoder fills a file cut short with grey and reports success; PIL refuses such
    // a file by default ("image file is truncated"), and so do we.
    if reader.format() == Some(ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(Error::Image(
            "the JPEG is truncated (it has no end-of-image marker); the file is incomplete".into(),
        ));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 8);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| Error::Image(format!("cannot decode the image: {e}")))?;
    let (width, height) = decoder.dimensions();
    let pixels = width as u64 * height as u64;
    if pixels > MAX_IMAGE_PIXELS {
        return Err(Error::Image(format!(
            "the image is {width}×{height} ({} megapixels); the limit is {} megapixels",
            pixels / 1_000_000,
            MAX_IMAGE_PIXELS / 1_000_000
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

/// Whether a JPEG's marker segments run up to an end-of-image marker (EOI). Walks the segment
/// lengths and skips entropy-coded data (where 0xFF is always followed by 0x00 or a restart
/// marker); data after EOI (e.g. an appended video) is allowed.
fn jpeg_is_complete(b: &[u8]) -> bool {
    let mut i = 2; // after SOI
    while let Some(&[0xFF, marker]) = b.get(i..i + 2) {
        match marker {
            0xD9 => return true,
            // Fill bytes, and markers without a length.
            0xFF => i += 1,
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let Some(&[hi, lo]) = b.get(i + 2..i + 4) else {
                    return false;
                };
                i += 2 + u16::from_be_bytes([hi, lo]) as usize;
                if marker == 0xDA {
                    // Scan data runs to the next real marker.
                    loop {
                        match b.get(i..i + 2) {
                            None => return false,
                            Some(&[0xFF, m])
                                if m != 0 && m != 0xFF && !(0xD0..=0xD7).contains(&m) =>
                            {
                                break;
                            }
                            Some(_) => i += 1,
                        }
                    }
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::jpeg_is_complete;

    #[test]
    fn jpeg_end_marker_is_required() {
        // SOI, an APP0 segment of 4 bytes, SOS with scan data holding a stuffed 0xFF, EOI.
        let whole = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xDA, 0, 2, 7, 0xFF, 0, 9, 0xFF, 0xD9,
        ];
        assert!(jpeg_is_complete(&whole));
        for cut in 2..whole.len() - 1 {
            assert!(!jpeg_is_complete(&whole[..cut]), "cut at {cut}");
        }
    }
}
