//! Defensive readers of kernel memory shared by the module and unloaded-module analyzers: bounded C strings
//! that may end just before an unreadable page, and `struct list_head` walks that survive cycles, wild
//! pointers and unreadable nodes.

use std::collections::HashSet;

use crate::target::{ReadError, Target};

/// Granule of the chunked string reads: a string may end just before an unmapped page.
const PAGE: u64 = 4096;

/// Read a NUL-terminated string of at most `max` bytes at `addr`, page by page, so that a short string
/// followed by an unreadable page still reads. Fails only when the first byte cannot be read.
pub(crate) fn read_cstr(t: &dyn Target, addr: u64, max: usize) -> Result<String, ReadError> {
    let mut out = Vec::new();
    let mut a = addr;
    while out.len() < max {
        let to_page_end = (PAGE - (a % PAGE)) as usize;
        let n = to_page_end.min(max - out.len());
        let mut buf = vec![0u8; n];
        if let Err(e) = t.read(a, &mut buf) {
            // A source with finer holes than pages: take what reads, byte by byte, up to the hole.
            let mut byte = [0u8; 1];
            for i in 0..n as u64 {
                if t.read(a.wrapping_add(i), &mut byte).is_err() {
                    break;
                }
                if byte[0] == 0 {
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                out.push(byte[0]);
            }
            if out.is_empty() {
                return Err(e);
            }
            break;
        }
        if let Some(end) = buf.iter().position(|&c| c == 0) {
            out.extend_from_slice(&buf[..end]);
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        out.extend_from_slice(&buf);
        a = a.wrapping_add(n as u64);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A `char[N]` field as the kernel keeps it, with what says whether the kernel could have written it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CharField {
    /// The bytes up to the first NUL, as lossy UTF-8.
    pub text: String,
    /// A NUL ends the text within the field: every string the kernel copies into a `char[N]` (`strscpy`,
    /// `strlcpy`, `snprintf`) is terminated, so a full field is not kernel-written.
    pub terminated: bool,
    /// Control bytes or non-ASCII before the NUL (module names and taint strings are printable ASCII).
    pub non_printable: bool,
}

impl CharField {
    /// Why this cannot be what the kernel wrote, if it cannot.
    pub fn implausible(&self, len: u64) -> Option<String> {
        if !self.terminated {
            Some(format!(
                "fills its {len}-byte field with no terminating NUL: not a string the kernel wrote"
            ))
        } else if self.non_printable {
            Some(format!(
                "{:?} holds bytes that are not printable ASCII: not a string the kernel wrote",
                self.text
            ))
        } else {
            None
        }
    }
}

/// Read a `char[len]` field in place (bounded by `cap`) and say whether the kernel could have written it.
pub(crate) fn read_char_field(
    t: &dyn Target,
    addr: u64,
    len: u64,
    cap: u64,
) -> Result<CharField, ReadError> {
    let mut b = vec![0u8; len.min(cap) as usize];
    t.read(addr, &mut b)?;
    let end = b.iter().position(|&c| c == 0);
    let text = &b[..end.unwrap_or(b.len())];
    Ok(CharField {
        text: String::from_utf8_lossy(text).into_owned(),
        // A field longer than `cap` was only partly read: its tail is not judged.
        terminated: end.is_some() || len > cap,
        non_printable: text.iter().any(|&c| !(0x20..0x7f).contains(&c)),
    })
}

/// The entries of a circular `struct list_head` list, as the addresses of their `list_head`s (the head
/// itself excluded), in list order, plus what went wrong on the way.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ListWalk {
    pub nodes: Vec<u64>,
    pub problems: Vec<String>,
}

/// Walk the list whose head is at `head` (`next` at +0, `prev` at +8), visiting at most `max` entries.
///
/// Forward first, checking that every node's `prev` points back at the node we came from (this catches a
/// wild `next` that lands on readable garbage). When the forward walk breaks (unreadable node, cycle,
/// broken back link) the walk resumes backwards from `head->prev` until it meets a node already seen, so
/// the entries after a single broken link are still found.
pub(crate) fn walk_list(t: &dyn Target, head: u64, max: usize) -> ListWalk {
    let mut w = ListWalk::default();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut prev = head;
    let mut cur = match t.read_u64(head) {
        Ok(v) => v,
        Err(e) => {
            w.problems
                .push(format!("list head {head:#x} is unreadable: {e}"));
            return w;
        }
    };
    let broken = loop {
        if cur == head {
            break false;
        }
        if w.nodes.len() >= max {
            w.problems.push(format!(
                "list at {head:#x} has more than {max} entries; stopped there"
            ));
            return w;
        }
        if seen.contains(&cur) {
            w.problems.push(format!(
                "list at {head:#x} loops: {prev:#x} points back to {cur:#x}, already visited"
            ));
            break true;
        }
        match (t.read_u64(cur), t.read_u64(cur.wrapping_add(8))) {
            (Ok(next), Ok(back)) => {
                if back != prev {
                    w.problems.push(format!(
                        "list entry {cur:#x} (after {prev:#x}) does not link back (its prev is {back:#x}); \
                         treating it as a wild pointer"
                    ));
                    break true;
                }
                seen.insert(cur);
                w.nodes.push(cur);
                prev = cur;
                cur = next;
            }
            (Err(e), _) | (_, Err(e)) => {
                w.problems.push(format!(
                    "list entry {cur:#x} (after {prev:#x}) is unreadable: {e}"
                ));
                break true;
            }
        }
    };
    if broken {
        walk_back(t, head, max, &mut seen, &mut w);
    }
    w
}

/// Recover the tail of a broken list by following `prev` links from the head.
fn walk_back(t: &dyn Target, head: u64, max: usize, seen: &mut HashSet<u64>, w: &mut ListWalk) {
    let mut tail = Vec::new();
    let mut succ = head;
    let mut cur = match t.read_u64(head.wrapping_add(8)) {
        Ok(v) => v,
        Err(e) => {
            w.problems
                .push(format!("list head {head:#x}: prev is unreadable: {e}"));
            return;
        }
    };
    while cur != head && !seen.contains(&cur) {
        if w.nodes.len() + tail.len() >= max {
            w.problems
                .push(format!("backward walk passed {max} entries; stopped there"));
            break;
        }
        match (t.read_u64(cur), t.read_u64(cur.wrapping_add(8))) {
            (Ok(next), Ok(back)) if next == succ => {
                seen.insert(cur);
                tail.push(cur);
                succ = cur;
                cur = back;
            }
            (Ok(next), Ok(_)) => {
                w.problems.push(format!(
                    "backward walk: entry {cur:#x} does not link forward to {succ:#x} (its next is {next:#x})"
                ));
                break;
            }
            (Err(e), _) | (_, Err(e)) => {
                w.problems
                    .push(format!("backward walk: entry {cur:#x} is unreadable: {e}"));
                break;
            }
        }
    }
    if !tail.is_empty() {
        w.problems.push(format!(
            "recovered {} entries by walking backwards from the list head; entries between the break \
             and those may be missing",
            tail.len()
        ));
    }
    w.nodes.extend(tail.into_iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeTarget;

    fn ring(t: &mut FakeTarget, nodes: &[u64]) {
        // nodes[0] is the head
        for (i, &n) in nodes.iter().enumerate() {
            let next = nodes[(i + 1) % nodes.len()];
            let prev = nodes[(i + nodes.len() - 1) % nodes.len()];
            t.map(n, vec![0; 16]);
            t.write_u64(n, next);
            t.write_u64(n + 8, prev);
        }
    }

    #[test]
    fn string_ending_before_an_unmapped_page_reads() {
        let mut t = FakeTarget::new();
        t.map(0x1ffc, b"abc\0".to_vec());
        assert_eq!(read_cstr(&t, 0x1ffc, 64).unwrap(), "abc");
        assert!(
            t.read_cstr(0x1ffc, 64).is_err(),
            "the trait default needs all 64 bytes"
        );
        assert!(read_cstr(&t, 0x5000, 8).is_err());
    }

    #[test]
    fn empty_and_whole_lists() {
        let mut t = FakeTarget::new();
        ring(&mut t, &[0x100]);
        assert_eq!(walk_list(&t, 0x100, 10), ListWalk::default());
        let mut t = FakeTarget::new();
        ring(&mut t, &[0x100, 0x200, 0x300]);
        let w = walk_list(&t, 0x100, 10);
        assert_eq!(w.nodes, vec![0x200, 0x300]);
        assert!(w.problems.is_empty());
    }

    #[test]
    fn broken_forward_link_is_recovered_backwards() {
        let mut t = FakeTarget::new();
        ring(&mut t, &[0x100, 0x200, 0x300, 0x400, 0x500]);
        t.write_u64(0x300, 0xdead_0000_0000);
        let w = walk_list(&t, 0x100, 10);
        assert_eq!(w.nodes, vec![0x200, 0x300, 0x400, 0x500]);
        assert!(w.problems[0].contains("unreadable"), "{:?}", w.problems);
        assert!(w.problems[1].contains("recovered 2"), "{:?}", w.problems);
    }

    #[test]
    fn bound_is_respected() {
        let mut t = FakeTarget::new();
        let nodes: Vec<u64> = (1..=20).map(|i| i * 0x100).collect();
        ring(&mut t, &nodes);
        let w = walk_list(&t, 0x100, 5);
        assert_eq!(w.nodes.len(), 5);
        assert!(w.problems[0].contains("more than 5"));
    }
}
