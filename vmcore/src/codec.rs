//! Page codecs of kdump-compressed dumps: zlib, lzo (lzo1x), snappy and zstd, each decoding into a buffer of
//! exactly one page so a corrupt page can never make us allocate or write more.

use serde::Serialize;

/// How a page (or a whole dump) is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Zlib,
    Lzo,
    Snappy,
    Zstd,
}

impl Compression {
    /// The codec a kdump page descriptor's `flags` name, or `None` for a raw page.
    pub(crate) fn from_page_flags(flags: u32) -> Result<Compression, String> {
        const ZLIB: u32 = 0x1;
        const LZO: u32 = 0x2;
        const SNAPPY: u32 = 0x4;
        const ZSTD: u32 = 0x20;
        match flags & (ZLIB | LZO | SNAPPY | ZSTD) {
            0 => Ok(Compression::None),
            ZLIB => Ok(Compression::Zlib),
            LZO => Ok(Compression::Lzo),
            SNAPPY => Ok(Compression::Snappy),
            ZSTD => Ok(Compression::Zstd),
            other => Err(format!("page flags name one codec, found {other:#x}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zlib => "zlib",
            Compression::Lzo => "lzo",
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
        }
    }
}

/// Decode `input` into `out`, which must come out exactly full.
pub(crate) fn decompress(codec: Compression, input: &[u8], out: &mut [u8]) -> Result<(), String> {
    let n = match codec {
        Compression::None => {
            if input.len() != out.len() {
                return Err(format!(
                    "a raw page of {} bytes, found {}",
                    out.len(),
                    input.len()
                ));
            }
            out.copy_from_slice(input);
            input.len()
        }
        Compression::Zlib => {
            let mut z = flate2::Decompress::new(true);
            match z.decompress(input, out, flate2::FlushDecompress::Finish) {
                Ok(flate2::Status::StreamEnd) => z.total_out() as usize,
                Ok(_) => return Err(format!("zlib stream to end within {} bytes", out.len())),
                Err(e) => return Err(format!("a valid zlib stream ({e})")),
            }
        }
        Compression::Lzo => {
            crate::lzo::decompress(input, out).map_err(|e| format!("a valid lzo1x stream ({e})"))?
        }
        Compression::Snappy => {
            let len = snap::raw::decompress_len(input)
                .map_err(|e| format!("a valid snappy stream ({e})"))?;
            if len != out.len() {
                return Err(format!("snappy stream of {} bytes, found {len}", out.len()));
            }
            snap::raw::Decoder::new()
                .decompress(input, out)
                .map_err(|e| format!("a valid snappy stream ({e})"))?
        }
        Compression::Zstd => zstd::bulk::decompress_to_buffer(input, out)
            .map_err(|e| format!("a valid zstd frame ({e})"))?,
    };
    if n != out.len() {
        return Err(format!(
            "{} stream to decode to {} bytes, got {n}",
            codec.name(),
            out.len()
        ));
    }
    Ok(())
}
