//! Page compression as makedumpfile does it (one page at a time, no framing beyond the codec's).

/// How kdump pages are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// No compression (`makedumpfile` without `-c/-l/-p/-z`): descriptor flags 0.
    Raw,
    /// zlib stream (RFC 1950) at level 1, like `compress2(.., Z_BEST_SPEED)`: flag 0x1.
    Zlib,
    /// LZO1X stream: flag 0x2. Made by `lzokay-native` (an LZO1X-999-style compressor;
    /// makedumpfile uses lzo1x_1, and any valid LZO1X stream decodes the same way). Its output
    /// was checked against liblzo2's `lzo1x_decompress_safe`. Slowest codec here: about
    /// 0.07-0.2 ms per page. (Do not use `lzokay-native`'s decoder in readers: it panics on
    /// some bad input.)
    Lzo,
    /// Raw snappy block (no framing format): flag 0x4.
    Snappy,
    /// One zstd frame at level 1: flag 0x20.
    Zstd,
}

/// `DUMP_DH_COMPRESSED_ZLIB`.
pub const FLAG_ZLIB: u32 = 0x1;
/// `DUMP_DH_COMPRESSED_LZO`.
pub const FLAG_LZO: u32 = 0x2;
/// `DUMP_DH_COMPRESSED_SNAPPY`.
pub const FLAG_SNAPPY: u32 = 0x4;
/// `DUMP_DH_COMPRESSED_INCOMPLETE` (header `status` only).
pub const FLAG_INCOMPLETE: u32 = 0x8;
/// `DUMP_DH_EXCLUDED_VMEMMAP` (header `status` only).
pub const FLAG_EXCLUDED_VMEMMAP: u32 = 0x10;
/// `DUMP_DH_COMPRESSED_ZSTD`.
pub const FLAG_ZSTD: u32 = 0x20;

impl Codec {
    /// The page-descriptor flag (and header `status` bit) for this codec; 0 for raw.
    pub fn flag(self) -> u32 {
        match self {
            Codec::Raw => 0,
            Codec::Zlib => FLAG_ZLIB,
            Codec::Lzo => FLAG_LZO,
            Codec::Snappy => FLAG_SNAPPY,
            Codec::Zstd => FLAG_ZSTD,
        }
    }
}

/// Compresses pages one at a time, reusing the codec's working memory across pages (building it
/// per page made LZO and zlib dumps slow).
pub struct PageCompressor {
    codec: Codec,
    zlib: Option<flate2::Compress>,
    lzo: Option<lzokay_native::Dict>,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    snappy: snap::raw::Encoder,
}

impl PageCompressor {
    /// A compressor for `codec`.
    pub fn new(codec: Codec) -> Self {
        PageCompressor {
            codec,
            zlib: (codec == Codec::Zlib)
                .then(|| flate2::Compress::new(flate2::Compression::new(1), true)),
            lzo: (codec == Codec::Lzo).then(lzokay_native::Dict::new),
            zstd: if codec == Codec::Zstd {
                zstd::bulk::Compressor::new(1).ok()
            } else {
                None
            },
            snappy: snap::raw::Encoder::new(),
        }
    }

    /// The codec's output for `page`; `None` for [`Codec::Raw`] or when the codec fails.
    pub fn compress(&mut self, page: &[u8]) -> Option<Vec<u8>> {
        match self.codec {
            Codec::Raw => None,
            Codec::Zlib => {
                let z = self.zlib.as_mut()?;
                z.reset();
                // zlib's compressBound for one page, plus room for the header and trailer.
                let mut out = Vec::with_capacity(page.len() + page.len() / 1000 + 64);
                match z.compress_vec(page, &mut out, flate2::FlushCompress::Finish) {
                    Ok(flate2::Status::StreamEnd) => Some(out),
                    _ => None,
                }
            }
            Codec::Lzo => lzokay_native::compress_with_dict(page, self.lzo.as_mut()?).ok(),
            Codec::Snappy => self.snappy.compress_vec(page).ok(),
            Codec::Zstd => self.zstd.as_mut()?.compress(page).ok(),
        }
    }

    /// Compresses `page` like makedumpfile: the compressed bytes and flag when that is smaller
    /// than the page, else the page itself stored raw with flag 0.
    pub fn compress_page(&mut self, page: &[u8]) -> (Vec<u8>, u32) {
        match self.compress(page) {
            Some(c) if c.len() < page.len() => (c, self.codec.flag()),
            _ => (page.to_vec(), 0),
        }
    }
}

/// One-off [`PageCompressor::compress_page`].
pub fn compress_page(codec: Codec, page: &[u8]) -> (Vec<u8>, u32) {
    PageCompressor::new(codec).compress_page(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample() -> Vec<u8> {
        crate::image::pattern_page(77, 4096)
    }

    #[test]
    fn zlib_round_trip() {
        let (c, f) = compress_page(Codec::Zlib, &sample());
        assert_eq!(f, FLAG_ZLIB);
        assert!(c.len() < 4096);
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&c[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, sample());
    }

    #[test]
    fn snappy_round_trip() {
        let (c, f) = compress_page(Codec::Snappy, &sample());
        assert_eq!(f, FLAG_SNAPPY);
        assert_eq!(
            snap::raw::Decoder::new().decompress_vec(&c).unwrap(),
            sample()
        );
    }

    #[test]
    fn zstd_round_trip() {
        let (c, f) = compress_page(Codec::Zstd, &sample());
        assert_eq!(f, FLAG_ZSTD);
        assert_eq!(zstd::bulk::decompress(&c, 4096).unwrap(), sample());
    }

    #[test]
    fn lzo_round_trip_and_end_marker() {
        for page in [
            sample(),
            vec![0u8; 4096],
            (0..4096).map(|i| i as u8).collect(),
        ] {
            let (c, f) = compress_page(Codec::Lzo, &page);
            assert_eq!(f, FLAG_LZO);
            // Every LZO1X stream ends with the M4 end-of-stream marker.
            assert_eq!(&c[c.len() - 3..], &[0x11, 0, 0]);
            assert_eq!(lzokay_native::decompress_all(&c, Some(4096)).unwrap(), page);
        }
    }

    #[test]
    fn incompressible_page_is_stored_raw() {
        let noise = crate::noise(4096, 0x1234_5678_9abc_def1);
        for codec in [
            Codec::Zlib,
            Codec::Lzo,
            Codec::Snappy,
            Codec::Zstd,
            Codec::Raw,
        ] {
            let (c, f) = compress_page(codec, &noise);
            assert_eq!(f, 0, "{codec:?}");
            assert_eq!(c, noise);
        }
    }
}
