//! Thumbnails: decode an uploaded image and make a 150 px wide PNG of it, keeping the aspect.
//!
//! Decoding is bounded: the declared dimensions are read from the header first and images
//! larger than [`MAX_DIMENSION`] on a side are refused before any pixel is decoded, so a small
//! file that claims to be enormous (a decompression bomb) costs nothing.
//!
//! ```
//! use std::io::Cursor;
//! use udagram::thumbnail::make_thumbnail;
//!
//! let mut png = Vec::new();
//! image::RgbImage::new(300, 200)
//!     .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
//!     .unwrap();
//! let thumb = make_thumbnail(&png, "image/png").unwrap();
//! assert_eq!((thumb.width, thumb.height), (150, 100));
//! ```

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits, imageops::FilterType};

/// The width of every thumbnail, in pixels.
pub const THUMBNAIL_WIDTH: u32 = 150;
/// The largest width or height accepted for decoding.
pub const MAX_DIMENSION: u32 = 8000;
/// The most memory the decoder may allocate (an 8000x8000 RGBA image, plus slack).
const MAX_ALLOC: u64 = 8000 * 8000 * 4 + 16 * 1024 * 1024;

/// A made thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// The PNG bytes.
    pub png: Vec<u8>,
    /// Always [`THUMBNAIL_WIDTH`].
    pub width: u32,
    /// The height that keeps the original's aspect (at least 1).
    pub height: u32,
}

/// Why no thumbnail could be made. Every variant means the upload is not a usable image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThumbnailError {
    /// The declared content type is not one of the accepted image types.
    #[error("content type {0:?} is not an accepted image type")]
    UnsupportedType(String),
    /// The bytes are not recognisably an image, or not of the declared type.
    #[error("the bytes are not a {declared} image")]
    NotDeclaredType {
        /// The declared content type.
        declared: String,
    },
    /// The header declares an image larger than [`MAX_DIMENSION`] on a side.
    #[error("image is {width}x{height}, larger than {MAX_DIMENSION}x{MAX_DIMENSION}")]
    TooLarge {
        /// The declared width.
        width: u32,
        /// The declared height.
        height: u32,
    },
    /// The image is empty (a zero width or height).
    #[error("image has no pixels")]
    Empty,
    /// The header was fine but the pixels could not be decoded (a truncated or corrupt file).
    #[error("image could not be decoded: {0}")]
    Decode(String),
    /// The thumbnail could not be encoded as PNG.
    #[error("thumbnail could not be encoded: {0}")]
    Encode(String),
}

/// The image format a content type names, for the accepted upload types.
pub fn format_for_content_type(content_type: &str) -> Option<ImageFormat> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence.to_ascii_lowercase().as_str() {
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/png" => Some(ImageFormat::Png),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// Decodes `bytes`, which must be an image of `content_type`, and returns its thumbnail.
/// CPU-bound: call it from `spawn_blocking` in async code.
pub fn make_thumbnail(bytes: &[u8], content_type: &str) -> Result<Thumbnail, ThumbnailError> {
    let declared = format_for_content_type(content_type)
        .ok_or_else(|| ThumbnailError::UnsupportedType(content_type.to_owned()))?;
    let not_declared = || ThumbnailError::NotDeclaredType {
        declared: content_type.to_owned(),
    };
    if image::guess_format(bytes).ok() != Some(declared) {
        return Err(not_declared());
    }
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), declared)
        .into_dimensions()
        .map_err(|e| ThumbnailError::Decode(e.to_string()))?;
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(ThumbnailError::TooLarge { width, height });
    }
    if width == 0 || height == 0 {
        return Err(ThumbnailError::Empty);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), declared);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| ThumbnailError::Decode(e.to_string()))?;
    // The JPEG decoder fills a truncated scan with grey instead of failing: insist on the
    // end-of-image marker after the last start-of-scan.
    if declared == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ThumbnailError::Decode(
            "JPEG data ends before its end-of-image marker".into(),
        ));
    }
    let thumb_height = thumbnail_height(width, height);
    let resized = decoded
        .resize_exact(THUMBNAIL_WIDTH, thumb_height, FilterType::Triangle)
        .to_rgba8();
    let mut png = Vec::new();
    resized
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| ThumbnailError::Encode(e.to_string()))?;
    Ok(Thumbnail {
        png,
        width: THUMBNAIL_WIDTH,
        height: thumb_height,
    })
}

/// Whether a JPEG's last end-of-image marker (`FF D9`) follows its last start-of-scan
/// (`FF DA`). Entropy-coded data stuffs every `FF` byte, so neither marker occurs inside a scan.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |marker: [u8; 2]| bytes.windows(2).rposition(|pair| pair == marker);
    match (last([0xFF, 0xD9]), last([0xFF, 0xDA])) {
        (Some(end), Some(scan)) => end > scan,
        _ => false,
    }
}

/// The thumbnail height for an image of `width` x `height`, rounded, at least 1.
fn thumbnail_height(width: u32, height: u32) -> u32 {
    let scaled = (u64::from(height) * u64::from(THUMBNAIL_WIDTH) + u64::from(width) / 2)
        / u64::from(width.max(1));
    u32::try_from(scaled.max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use image::{ImageEncoder, RgbImage, codecs::png::PngEncoder};

    fn encode(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    /// PNG's CRC-32 (IEEE, reflected), bit by bit: small and slow, fine for a header.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn decode_png(bytes: &[u8]) -> (u32, u32) {
        let img = image::load_from_memory_with_format(bytes, ImageFormat::Png).unwrap();
        (img.width(), img.height())
    }

    #[test]
    fn png_and_jpeg_make_150_wide_pngs() {
        let cases = [
            (ImageFormat::Png, "image/png", 300, 200, 100),
            (ImageFormat::Jpeg, "image/jpeg", 400, 300, 113),
            (ImageFormat::Png, "image/png", 50, 100, 300),
            (ImageFormat::Jpeg, "image/jpeg; charset=binary", 1000, 3, 1),
            (ImageFormat::Gif, "image/gif", 150, 150, 150),
        ];
        for (format, kind, w, h, want_h) in cases {
            let thumb = make_thumbnail(&encode(w, h, format), kind).unwrap();
            assert_eq!((thumb.width, thumb.height), (150, want_h), "{kind} {w}x{h}");
            assert_eq!(decode_png(&thumb.png), (150, want_h));
        }
    }

    #[test]
    fn not_images_and_wrong_types_are_refused() {
        let png = encode(20, 20, ImageFormat::Png);
        assert!(matches!(
            make_thumbnail(b"hello, not an image", "image/png"),
            Err(ThumbnailError::NotDeclaredType { .. })
        ));
        assert!(matches!(
            make_thumbnail(&png, "image/jpeg"),
            Err(ThumbnailError::NotDeclaredType { .. })
        ));
        assert!(matches!(
            make_thumbnail(&png, "text/plain"),
            Err(ThumbnailError::UnsupportedType(_))
        ));
        assert!(matches!(
            make_thumbnail(b"", "image/png"),
            Err(ThumbnailError::NotDeclaredType { .. })
        ));
    }

    #[test]
    fn truncated_images_fail_to_decode() {
        let formats = [
            (ImageFormat::Png, "image/png"),
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::Gif, "image/gif"),
            (ImageFormat::WebP, "image/webp"),
        ];
        for (format, kind) in formats {
            let bytes = encode(200, 200, format);
            for cut in [40, bytes.len() / 2] {
                let err = make_thumbnail(&bytes[..cut], kind).unwrap_err();
                assert!(
                    matches!(err, ThumbnailError::Decode(_)),
                    "{kind} cut at {cut}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn huge_declared_dimensions_are_refused_before_decoding() {
        // A valid PNG header declaring 100000x100000 followed by a tiny, wrong body: a bomb
        // would be detected from the header alone.
        let mut bytes = Vec::new();
        PngEncoder::new(&mut bytes)
            .write_image(&[0; 3], 1, 1, image::ExtendedColorType::Rgb8)
            .unwrap();
        // IHDR's width and height live at bytes 16..24, its CRC (over bytes 12..29) at 29..33.
        bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            make_thumbnail(&bytes, "image/png"),
            Err(ThumbnailError::TooLarge {
                width: 100_000,
                height: 100_000
            })
        );
        let real = encode(8001, 1, ImageFormat::Png);
        assert_eq!(
            make_thumbnail(&real, "image/png"),
            Err(ThumbnailError::TooLarge {
                width: 8001,
                height: 1
            })
        );
    }

    #[test]
    fn heights_round_and_never_reach_zero() {
        assert_eq!(thumbnail_height(300, 200), 100);
        assert_eq!(thumbnail_height(10_000, 1), 1);
        assert_eq!(thumbnail_height(1, 8000), 1_200_000);
        assert_eq!(thumbnail_height(0, 5), 750);
    }
}
