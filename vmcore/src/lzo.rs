//! A bounds-checked LZO1X decompressor (the format makedumpfile's `-l` writes with `lzo1x_1_compress`).
//!
//! Written from the format's description, not from any implementation. The stream is a sequence of
//! instructions; the meaning of an instruction byte below 16 depends on what the previous instruction left
//! behind (`state`): after a match with no trailing literals it starts a literal run; after 1-3 trailing
//! literals it is a 2-byte match near the cursor; after a literal run of 4 or more it is a 3-byte match
//! 2 KiB back. Every read of input and write of output is checked, so corrupt input is an error, never a
//! panic or an overrun, and the output can never exceed the buffer the caller gives.

/// Why an LZO1X stream could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LzoError {
    #[error("LZO input ended early (at input byte {0})")]
    InputOverrun(usize),
    #[error("LZO output would exceed {0} bytes")]
    OutputOverrun(usize),
    #[error("LZO match distance {distance} reaches before the start of the output (at output byte {pos})")]
    LookBehind { distance: usize, pos: usize },
    #[error("LZO stream has {0} bytes after its end marker")]
    TrailingInput(usize),
}

struct Input<'a> {
    b: &'a [u8],
    i: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> Result<usize, LzoError> {
        let v = *self.b.get(self.i).ok_or(LzoError::InputOverrun(self.i))?;
        self.i += 1;
        Ok(v as usize)
    }

    /// A length with the format's zero-byte extension: each 0 adds 255, the first non-zero byte ends it.
    fn extended(&mut self, base: usize) -> Result<usize, LzoError> {
        let mut n = base;
        loop {
            let b = self.byte()?;
            if b != 0 {
                return Ok(n + b);
            }
            n += 255;
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], LzoError> {
        let end = self
            .i
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(LzoError::InputOverrun(self.i))?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }
}

struct Output<'a> {
    b: &'a mut [u8],
    n: usize,
}

impl Output<'_> {
    fn literals(&mut self, src: &[u8]) -> Result<(), LzoError> {
        let end = self.n + src.len();
        if end > self.b.len() {
            return Err(LzoError::OutputOverrun(self.b.len()));
        }
        self.b[self.n..end].copy_from_slice(src);
        self.n = end;
        Ok(())
    }

    fn copy_match(&mut self, distance: usize, len: usize) -> Result<(), LzoError> {
        if distance == 0 || distance > self.n {
            return Err(LzoError::LookBehind {
                distance,
                pos: self.n,
            });
        }
        if self.n + len > self.b.len() {
            return Err(LzoError::OutputOverrun(self.b.len()));
        }
        let from = self.n - distance;
        if distance >= len {
            self.b.copy_within(from..from + len, self.n);
        } else {
            // Overlapping copy repeats the last `distance` bytes: must go byte by byte.
            for k in 0..len {
                self.b[self.n + k] = self.b[from + k];
            }
        }
        self.n += len;
        Ok(())
    }
}

/// Decompress one LZO1X stream into `out`; returns the number of bytes written.
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, LzoError> {
    let mut ip = Input { b: input, i: 0 };
    let mut op = Output { b: out, n: 0 };
    // state: 0 = after a match without trailing literals (or at start), 1..=3 = trailing literals copied,
    // 4 = after a literal run of 4 or more.
    let mut state: usize;
    let first = *input.first().ok_or(LzoError::InputOverrun(0))? as usize;
    if first > 17 {
        ip.i = 1;
        let n = first - 17;
        op.literals(ip.take(n)?)?;
        state = if n < 4 { n } else { 4 };
    } else {
        state = 0;
    }
    loop {
        let t = ip.byte()?;
        let trailing;
        if t < 16 {
            match state {
                0 => {
                    // Literal run of t + 3 bytes (t == 0: extended length).
                    let n = if t == 0 { ip.extended(15)? } else { t } + 3;
                    op.literals(ip.take(n)?)?;
                    state = 4;
                    continue;
                }
                4 => {
                    // 3-byte match, distance 2049..=3072.
                    let d = 1 + 0x800 + (t >> 2) + (ip.byte()? << 2);
                    op.copy_match(d, 3)?;
                }
                _ => {
                    // 2-byte match, distance 1..=1024.
                    let d = 1 + (t >> 2) + (ip.byte()? << 2);
                    op.copy_match(d, 2)?;
                }
            }
            trailing = t & 3;
        } else if t >= 64 {
            // M2: length 3..=8, distance 1..=2048.
            let d = 1 + ((t >> 2) & 7) + (ip.byte()? << 3);
            op.copy_match(d, (t >> 5) + 1)?;
            trailing = t & 3;
        } else if t >= 32 {
            // M3: distance 1..=16384.
            let len = if t & 31 == 0 {
                ip.extended(31)?
            } else {
                t & 31
            } + 2;
            let lo = ip.byte()?;
            let hi = ip.byte()?;
            op.copy_match(1 + (lo >> 2) + (hi << 6), len)?;
            trailing = lo & 3;
        } else {
            // M4: distance 16385..=49151; distance 0 is the end marker.
            let len = if t & 7 == 0 { ip.extended(7)? } else { t & 7 } + 2;
            let lo = ip.byte()?;
            let hi = ip.byte()?;
            let d = ((t & 8) << 11) + (lo >> 2) + (hi << 6);
            if d == 0 {
                let rest = input.len() - ip.i;
                return if rest == 0 {
                    Ok(op.n)
                } else {
                    Err(LzoError::TrailingInput(rest))
                };
            }
            op.copy_match(d + 0x4000, len)?;
            trailing = lo & 3;
        }
        op.literals(ip.take(trailing)?)?;
        state = trailing;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_only_stream() {
        // first byte 17 + 5: five literals, then the end marker 0x11 0x00 0x00.
        let s = [22, b'h', b'e', b'l', b'l', b'o', 0x11, 0, 0];
        let mut out = [0u8; 16];
        assert_eq!(decompress(&s, &mut out), Ok(5));
        assert_eq!(&out[..5], b"hello");
    }

    #[test]
    fn overlapping_m2_match_repeats() {
        // "ab" literal (first byte 17+2), then M2 len 6 distance 2: t = (5 << 5) | ((d-1)&7)<<2 = 0xa4, next 0.
        let s = [19, b'a', b'b', 0xa4, 0, 0x11, 0, 0];
        let mut out = [0u8; 16];
        assert_eq!(decompress(&s, &mut out), Ok(8));
        assert_eq!(&out[..8], b"abababab");
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let mut out = [0u8; 8];
        assert!(matches!(
            decompress(&[], &mut out),
            Err(LzoError::InputOverrun(0))
        ));
        assert!(matches!(
            decompress(&[30, 1, 2], &mut out),
            Err(LzoError::InputOverrun(_))
        ));
        // distance beyond the output
        assert!(matches!(
            decompress(&[18, b'a', 0xa4, 9, 0x11, 0, 0], &mut out),
            Err(LzoError::LookBehind { .. })
        ));
        // output overrun
        assert!(matches!(
            decompress(&[19, b'a', b'b', 0xe4, 0, 0x11, 0, 0], &mut [0u8; 4]),
            Err(LzoError::OutputOverrun(4))
        ));
        // trailing bytes after the end marker
        assert_eq!(
            decompress(&[18, b'a', 0x11, 0, 0, 7], &mut out),
            Err(LzoError::TrailingInput(1))
        );
        // a run of zero length bytes never reads past the input
        assert!(matches!(
            decompress(&[0, 0, 0, 0], &mut out),
            Err(LzoError::InputOverrun(_))
        ));
    }
}
