//! What the first bytes of a photo's file say, before anything decodes it. The engine reads
//! the size a header announces, so that a decompression bomb (a few kilobytes that decode to
//! gigabytes) is refused before the browser decodes it; the page refuses a file that is
//! surely no image at once, without waiting for the engine (which may be busy with a long
//! analysis). Plain Rust, tested natively. Formats not recognised here are checked after
//! decoding.

/// How much of a file to read for its size (JPEG's EXIF block may come before the frame header).
pub const HEADER_BYTES: u32 = 256 * 1024;

fn be16(b: &[u8], i: usize) -> Option<u32> {
    Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?) as u32)
}
fn le16(b: &[u8], i: usize) -> Option<u32> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?) as u32)
}
fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}
fn le32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}
fn le24(b: &[u8], i: usize) -> Option<u32> {
    let s = b.get(i..i + 3)?;
    Some(s[0] as u32 | (s[1] as u32) << 8 | (s[2] as u32) << 16)
}

/// How many bytes [`surely_not_an_image`] looks at.
pub const SIGNATURE_BYTES: u32 = 16;

/// Whether a file is surely not an image: its first bytes match none of the formats browsers
/// decode (PNG, JPEG, GIF, WebP, BMP, AVIF/HEIF, ICO) and the browser gave it no image type.
/// A file with an image type but a broken header is left to the decoder's verdict.
pub fn surely_not_an_image(head: &[u8], mime: &str) -> bool {
    let signature = head.starts_with(b"\x89PNG")
        || head.starts_with(&[0xff, 0xd8, 0xff])
        || head.starts_with(b"GIF8")
        || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP"))
        || head.starts_with(b"BM")
        || head.get(4..8) == Some(b"ftyp")
        || head.starts_with(&[0, 0, 1, 0]);
    !signature && !mime.starts_with("image/")
}

/// `(width, height)` of a PNG, JPEG, GIF, WebP or BMP file, if its header says so.
pub fn image_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") && b.get(12..16) == Some(b"IHDR") {
        return Some((be32(b, 16)?, be32(b, 20)?));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some((le16(b, 6)?, le16(b, 8)?));
    }
    if b.starts_with(b"BM") {
        // The height is negative for top-down bitmaps.
        return Some((le32(b, 18)?, (le32(b, 22)? as i32).unsigned_abs()));
    }
    if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        return match b.get(12..16)? {
            b"VP8 " => Some((le16(b, 26)? & 0x3fff, le16(b, 28)? & 0x3fff)),
            b"VP8L" => {
                let bits = le32(b, 21)?;
                Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
            }
            b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
            _ => None,
        };
    }
    if b.starts_with(&[0xff, 0xd8]) {
        return jpeg_dimensions(b);
    }
    None
}

/// Walks the JPEG segments to the first frame header (SOF0–SOF15 but DHT, JPG and DAC).
fn jpeg_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    loop {
        while *b.get(i)? != 0xff {
            i += 1;
        }
        while *b.get(i)? == 0xff {
            i += 1;
        }
        let marker = *b.get(i)?;
        i += 1;
        if matches!(marker, 0xd0..=0xd9 | 0x01) {
            continue; // no length field
        }
        let length = be16(b, i)? as usize;
        if (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
            return Some((be16(b, i + 5)?, be16(b, i + 3)?));
        }
        i += length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend(width.to_be_bytes());
        b.extend(height.to_be_bytes());
        b.extend([8, 6, 0, 0, 0]);
        b
    }

    #[test]
    fn png_gif_bmp_webp() {
        assert_eq!(
            image_dimensions(&png(20_000, 30_000)),
            Some((20_000, 30_000))
        );
        assert_eq!(
            image_dimensions(b"GIF89a\x10\x27\x20\x4e\0\0"),
            Some((10_000, 20_000))
        );
        let mut bmp = b"BM".to_vec();
        bmp.resize(18, 0);
        bmp.extend(640u32.to_le_bytes());
        bmp.extend((-480i32).to_le_bytes());
        assert_eq!(image_dimensions(&bmp), Some((640, 480)));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        webp.extend([0x7f, 0x38, 0x01, 0x1f, 0x4e, 0x00]); // 80000 × 20000
        assert_eq!(image_dimensions(&webp), Some((80_000, 20_000)));
    }

    #[test]
    fn jpeg_after_an_exif_block() {
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe1, 0x00, 0x10];
        jpeg.extend([0u8; 14]);
        jpeg.extend([0xff, 0xc0, 0x00, 0x11, 0x08, 0x2e, 0xe0, 0x3a, 0x98]); // 15000 × 12000
        assert_eq!(image_dimensions(&jpeg), Some((15_000, 12_000)));
    }

    #[test]
    fn real_photos_and_garbage() {
        let photos = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/photos/");
        let read = |name: &str| std::fs::read(format!("{photos}{name}")).unwrap();
        assert_eq!(image_dimensions(&read("chelsea.png")), Some((451, 300)));
        for name in ["dog.jpg", "eagle.jpg", "rocket.jpg"] {
            let (w, h) = image_dimensions(&read(name)).expect(name);
            assert!(w >= 200 && h >= 200, "{name}: {w}×{h}");
        }
        assert_eq!(image_dimensions(b"these are not pixels\n"), None);
        assert_eq!(image_dimensions(&[0xff, 0xd8, 0xff]), None);
        assert_eq!(image_dimensions(&png(1, 1)[..20]), None);
    }

    #[test]
    fn text_is_surely_not_an_image_but_real_photos_and_typed_files_are_left_to_the_decoder() {
        let photos = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/photos/");
        for name in ["chelsea.png", "dog.jpg", "eagle.jpg"] {
            let head = std::fs::read(format!("{photos}{name}")).unwrap();
            // Whatever type the browser guessed from the name.
            assert!(!surely_not_an_image(&head[..16], ""), "{name}");
            assert!(!surely_not_an_image(&head[..16], "text/plain"), "{name}");
        }
        assert!(surely_not_an_image(b"these are not pixels\n", "text/plain"));
        assert!(surely_not_an_image(b"", ""));
        assert!(surely_not_an_image(b"%PDF-1.7", "application/pdf"));
        // A broken file named like an image: the decoder says what is wrong with it.
        assert!(!surely_not_an_image(b"these are not pixels\n", "image/png"));
    }
}
