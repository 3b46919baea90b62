//! Photos decoded by the browser (`createImageBitmap`, EXIF orientation applied) into RGBA
//! pixels, scaled down when huge, and refused when absurdly large.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::js::{browser, js_error, scope};
use crate::error::{EngineError, Result};
use crate::limits::check_image_size;
use resnet_lab_protocol::image_header::{HEADER_BYTES, image_dimensions};

/// Photos are scaled down in the browser so that their short side is at most this
/// (never below 512, so the network's 256-pixel resize sees practically the same image).
const MAX_SHORT_SIDE: u32 = 1024;
/// And so that no photo kept after scaling exceeds this many pixels (photos over
/// [`MAX_IMAGE_PIXELS`](crate::limits::MAX_IMAGE_PIXELS) are refused outright).
const MAX_SCALED_PIXELS: f64 = 16_000_000.0;

/// RGBA pixels, row by row.
pub struct RgbaImage {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// The size the file's header announces, read from its first bytes only.
async fn header_size(blob: &web_sys::Blob) -> Option<(u32, u32)> {
    let head = blob.slice_with_f64_and_f64(0.0, HEADER_BYTES as f64).ok()?;
    let buffer = JsFuture::from(head.array_buffer()).await.ok()?;
    image_dimensions(&js_sys::Uint8Array::new(&buffer).to_vec())
}

async fn image_bitmap(
    promise: std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>,
) -> std::result::Result<web_sys::ImageBitmap, wasm_bindgen::JsValue> {
    Ok(JsFuture::from(promise?).await?.unchecked_into())
}

/// Decodes a photo with the browser's own decoders (the command line uses the core's
/// `decode_image` instead).
pub async fn decode_in_browser(blob: &web_sys::Blob) -> Result<RgbaImage> {
    let scope = scope();
    let not_image = |detail: String| {
        let kind = blob.type_();
        EngineError::NotImage {
            kind: if kind.is_empty() {
                "unknown type".into()
            } else {
                kind
            },
            detail,
        }
    };
    // A decompression bomb is a few kilobytes: refuse it before the browser decodes it.
    if let Some((w, h)) = header_size(blob).await {
        check_image_size(w, h)?;
    }
    let options = web_sys::ImageBitmapOptions::new();
    options.set_image_orientation(web_sys::ImageOrientation::FromImage);
    let bitmap_full =
        image_bitmap(scope.create_image_bitmap_with_blob_and_image_bitmap_options(blob, &options))
            .await
            .map_err(|e| not_image(js_error(&e)))?;
    let (w, h) = (bitmap_full.width(), bitmap_full.height());
    if w == 0 || h == 0 {
        return Err(not_image("the image has no pixels".into()));
    }
    // Formats without a header we read are checked once decoded.
    if let Err(e) = check_image_size(w, h) {
        bitmap_full.close();
        return Err(e);
    }
    let short = w.min(h) as f64;
    let mut scale = (MAX_SHORT_SIDE as f64 / short)
        .min((MAX_SCALED_PIXELS / (w as f64 * h as f64)).sqrt())
        .min(1.0);
    if short * scale < 512.0 && short > 512.0 {
        scale = 512.0 / short;
    }
    let bitmap = if scale < 1.0 {
        let (nw, nh) = (
            ((w as f64 * scale).round() as u32).max(1),
            ((h as f64 * scale).round() as u32).max(1),
        );
        let options = web_sys::ImageBitmapOptions::new();
        options.set_resize_width(nw);
        options.set_resize_height(nh);
        options.set_resize_quality(web_sys::ResizeQuality::High);
        let scaled = image_bitmap(
            scope.create_image_bitmap_with_image_bitmap_and_image_bitmap_options(
                &bitmap_full,
                &options,
            ),
        )
        .await
        .map_err(browser("scaling the photo down failed"))?;
        bitmap_full.close();
        scaled
    } else {
        bitmap_full
    };
    let (w, h) = (bitmap.width(), bitmap.height());
    let canvas = web_sys::OffscreenCanvas::new(w, h).map_err(browser("no canvas"))?;
    let context: web_sys::OffscreenCanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(browser("no 2D context"))?
        .ok_or_else(|| EngineError::Browser {
            what: "no 2D context",
            detail: "the canvas offered none".into(),
        })?
        .unchecked_into();
    context
        .draw_image_with_image_bitmap(&bitmap, 0.0, 0.0)
        .map_err(browser("drawing the photo failed"))?;
    bitmap.close();
    let data = context
        .get_image_data(0.0, 0.0, w as f64, h as f64)
        .map_err(browser("reading the pixels failed"))?;
    Ok(RgbaImage {
        pixels: data.data().0,
        width: w,
        height: h,
    })
}
