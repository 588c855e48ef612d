//! Recognising a blob's type from its first bytes (magic numbers), for the formats people upload and
//! a few that must never pass for media. The names are the ones the reference PDS's detector
//! (`file-type`) reports, so a blob gets the same `mimeType` here as there. Anything else is not
//! recognised, and the declared type is used.

/// How many leading bytes [`sniff`] looks at, at most.
pub const SNIFF_LEN: usize = 256;

/// The MIME type of content starting with `head`, if recognised.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| {
        head.get(offset..offset + magic.len())
            .is_some_and(|b| b == magic)
    };
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some("image/gif");
    }
    if starts(b"RIFF") {
        if at(8, b"WEBP") {
            return Some("image/webp");
        }
        if at(8, b"WAVE") {
            return Some("audio/wav");
        }
        if at(8, b"AVI ") {
            return Some("video/vnd.avi");
        }
    }
    if at(4, b"ftyp") {
        return Some(iso_media(head.get(8..12).unwrap_or_default()));
    }
    // QuickTime files written without a leading `ftyp` box.
    if [b"moov", b"mdat", b"wide", b"free"]
        .iter()
        .any(|atom| at(4, *atom))
    {
        return Some("video/quicktime");
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return ebml(head);
    }
    let table: &[(&[u8], &'static str)] = &[
        (b"II*\0", "image/tiff"),
        (b"MM\0*", "image/tiff"),
        (&[0x00, 0x00, 0x01, 0x00], "image/x-icon"),
        (&[0xFF, 0x0A], "image/jxl"),
        (b"\0\0\0\x0cJXL \r\n\x87\n", "image/jxl"),
        (b"8BPS", "image/vnd.adobe.photoshop"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (&[0x1F, 0x8B, 0x08], "application/gzip"),
        (b"Rar!\x1a\x07", "application/x-rar-compressed"),
        (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
        (b"\x7fELF", "application/x-elf"),
        (b"\0asm", "application/wasm"),
        (b"MZ", "application/x-msdownload"),
        (b"ID3", "audio/mpeg"),
        (&[0xFF, 0xFB], "audio/mpeg"),
        (&[0xFF, 0xF3], "audio/mpeg"),
        (&[0xFF, 0xF2], "audio/mpeg"),
        (b"OggS", "audio/ogg"),
        (b"fLaC", "audio/x-flac"),
        (b"MThd", "audio/midi"),
        (b"BM", "image/bmp"),
    ];
    table
        .iter()
        .find(|(magic, _)| starts(magic))
        .map(|(_, mime)| *mime)
}

/// An ISO base media file (`ftyp` box): the major brand decides, as `file-type` maps it.
fn iso_media(brand: &[u8]) -> &'static str {
    let brand: Vec<u8> = brand
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    let brand = String::from_utf8_lossy(&brand);
    let brand = brand.trim();
    match brand {
        "avif" | "avis" => "image/avif",
        "mif1" => "image/heif",
        "msf1" => "image/heif-sequence",
        "heic" | "heix" => "image/heic",
        "hevc" | "hevx" => "image/heic-sequence",
        "qt" => "video/quicktime",
        "M4V" | "M4VH" | "M4VP" => "video/x-m4v",
        "M4P" | "F4V" | "F4P" => "video/mp4",
        "M4A" => "audio/x-m4a",
        "M4B" | "F4A" | "F4B" => "audio/mp4",
        "crx" => "image/x-canon-cr3",
        b if b.starts_with("3g2") => "video/3gpp2",
        b if b.starts_with("3g") => "video/3gpp",
        _ => "video/mp4",
    }
}

/// An EBML (Matroska family) file: its `DocType` element names WebM or Matroska.
fn ebml(head: &[u8]) -> Option<&'static str> {
    // The DocType element (id 0x4282) sits in the EBML header, within the first few dozen bytes.
    let position = head.windows(2).position(|w| w == [0x42, 0x82])?;
    let rest = head.get(position + 2..)?;
    let (&size, rest) = rest.split_first()?;
    // A one-byte size (0x8n: n bytes follow), as every writer uses for these short names.
    let len = usize::from(size & 0x7F);
    let doc_type = rest.get(..len)?;
    match doc_type {
        b"webm" => Some("video/webm"),
        b"matroska" => Some("video/x-matroska"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0x18];
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(brand);
        v.extend_from_slice(&[0, 0, 0, 0]);
        v
    }

    #[test]
    fn common_images_are_recognised() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some("image/jpeg")
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(&ftyp(b"avif")), Some("image/avif"));
        assert_eq!(sniff(&ftyp(b"heic")), Some("image/heic"));
        assert_eq!(sniff(b"BM\x36\0\0\0"), Some("image/bmp"));
    }

    #[test]
    fn videos_are_recognised_by_their_container() {
        assert_eq!(sniff(&ftyp(b"isom")), Some("video/mp4"));
        assert_eq!(sniff(&ftyp(b"mp42")), Some("video/mp4"));
        assert_eq!(sniff(&ftyp(b"qt  ")), Some("video/quicktime"));
        assert_eq!(sniff(&ftyp(b"M4V ")), Some("video/x-m4v"));
        assert_eq!(sniff(&ftyp(b"3gp5")), Some("video/3gpp"));
        assert_eq!(
            sniff(b"\0\0\0\x08wide\0\0\0\0mdat"),
            Some("video/quicktime")
        );
        let webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87";
        assert_eq!(sniff(webm), Some("video/webm"));
        let mkv = b"\x1a\x45\xdf\xa3\xa3\x42\x82\x88matroska";
        assert_eq!(sniff(mkv), Some("video/x-matroska"));
    }

    #[test]
    fn documents_archives_and_programs_are_recognised() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"PK\x03\x04\x14\0"), Some("application/zip"));
        assert_eq!(sniff(b"\x7fELF\x02\x01"), Some("application/x-elf"));
        assert_eq!(sniff(b"MZ\x90\0"), Some("application/x-msdownload"));
    }

    #[test]
    fn text_and_short_or_empty_content_is_not_recognised() {
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(&[0xFF]), None);
        assert_eq!(sniff(b"<!doctype html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b"hello world"), None);
        assert_eq!(sniff(b"RIFF\0\0\0\0JUNK"), None);
        assert_eq!(sniff(b"\x1a\x45\xdf\xa3"), None);
        assert_eq!(sniff(b"\x1a\x45\xdf\xa3\x42\x82\xff"), None);
    }
}
