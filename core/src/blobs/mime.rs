//! The MIME type a blob is stored with: the declared `Content-Type` reduced to `type/subtype`, checked
//! against what the content turns out to be.
//!
//! As in the reference PDS, a recognised content type wins over the declared one (a PNG declared as
//! `image/jpeg` is stored as `image/png`, and the response says so, so the record built from it
//! carries the true type), and the declared type is used for content that is not recognised. Two
//! claims are refused instead: content declared as one of the image types every client can detect
//! (JPEG, PNG, GIF, WebP) that is no such image, and content declared as an image or a video that is
//! recognisably something else entirely (a document, an archive, a program).

use super::sniff::sniff;
use super::BlobError;

/// Image types whose content always starts with a signature [`sniff`] recognises.
const SIGNED_IMAGES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The `type/subtype` of a `Content-Type` header value, lowercased, without parameters; `None` when
/// it is not a media type (RFC 9110 tokens around one slash).
pub fn essence(content_type: &str) -> Option<String> {
    let essence = content_type.split(';').next()?.trim();
    let (kind, subtype) = essence.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(kind) || !token(subtype) {
        return None;
    }
    Some(essence.to_ascii_lowercase())
}

/// Whether a MIME type is an image or a video.
fn is_visual(mime: &str) -> bool {
    mime.starts_with("image/") || mime.starts_with("video/")
}

/// Whether a MIME type is media of any kind.
fn is_media(mime: &str) -> bool {
    is_visual(mime) || mime.starts_with("audio/")
}

/// The type to store for content starting with `head` that was declared `declared` (an
/// [`essence`]), or [`BlobError::ContentMismatch`] when the declaration is refused (see the module
/// comment).
pub fn resolve(declared: &str, head: &[u8]) -> Result<String, BlobError> {
    let detected = sniff(head);
    let mismatch = |detected: Option<&str>| BlobError::ContentMismatch {
        declared: declared.to_owned(),
        detected: detected.map(str::to_owned),
    };
    match detected {
        Some(found) if found != declared => {
            if is_visual(declared) && !is_media(found) {
                return Err(mismatch(Some(found)));
            }
            log::debug!("blob declared {declared} is {found}");
            Ok(found.to_owned())
        }
        Some(found) => Ok(found.to_owned()),
        None if SIGNED_IMAGES.contains(&declared) => Err(mismatch(None)),
        None => Ok(declared.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0];

    #[test]
    fn essences_drop_parameters_and_case() {
        assert_eq!(essence("image/PNG").as_deref(), Some("image/png"));
        assert_eq!(
            essence(" text/plain ; charset=utf-8").as_deref(),
            Some("text/plain")
        );
        assert_eq!(
            essence("application/vnd.ipld.car").as_deref(),
            Some("application/vnd.ipld.car")
        );
        for bad in [
            "",
            "image",
            "/png",
            "image/",
            "image/png/x",
            "ima ge/png",
            "image/p\"ng",
        ] {
            assert_eq!(essence(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_detected_type_wins_over_another_media_type() {
        assert_eq!(resolve("image/png", PNG).unwrap(), "image/png");
        assert_eq!(resolve("image/jpeg", PNG).unwrap(), "image/png");
        assert_eq!(
            resolve("application/octet-stream", JPEG).unwrap(),
            "image/jpeg"
        );
        assert_eq!(resolve("video/mp4", JPEG).unwrap(), "image/jpeg");
    }

    #[test]
    fn unrecognised_content_keeps_its_declared_type() {
        assert_eq!(resolve("text/plain", b"hello").unwrap(), "text/plain");
        assert_eq!(resolve("video/mp2t", b"\x47\x40").unwrap(), "video/mp2t");
        assert_eq!(
            resolve("image/svg+xml", b"<svg/>").unwrap(),
            "image/svg+xml"
        );
    }

    #[test]
    fn false_image_claims_are_refused() {
        for (declared, head) in [
            ("image/png", &b"<html><script>x</script>"[..]),
            ("image/jpeg", b""),
            ("image/png", b"%PDF-1.4"),
            ("video/mp4", b"PK\x03\x04"),
            ("image/gif", b"\x7fELF"),
        ] {
            assert!(
                matches!(
                    resolve(declared, head),
                    Err(BlobError::ContentMismatch { .. })
                ),
                "{declared} {head:?}"
            );
        }
        // Not an image claim: stored as what it is.
        assert_eq!(
            resolve("application/octet-stream", b"%PDF-1.4").unwrap(),
            "application/pdf"
        );
    }
}
