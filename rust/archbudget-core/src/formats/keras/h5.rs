//! The dataset shapes of an HDF5 file as h5py writes it by default (`libver="earliest"`:
//! superblock version 0 or 1, version-1 object headers, groups as symbol tables), which
//! is how Keras saves `model.weights.h5` inside a `.keras` archive.
//!
//! Only what counting weights needs is read: the group tree, each dataset's dimensions,
//! and each group's `name` attribute (Keras's layer name, a variable-length string in the
//! global heap). No data is decoded. A pure-Rust reader of a few hundred lines instead
//! of the `hdf5` crate, which links the libhdf5 C library.
use std::collections::BTreeMap;

use crate::error::{Error, Result};

const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
/// Bounds the walk, so that a hostile file with cycles or deep nesting cannot hang it.
const MAX_OBJECTS: usize = 1 << 20;
const MAX_DEPTH: usize = 64;

/// What an HDF5 file holds: dataset path -> dimensions, group path -> `name` attribute.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    pub datasets: BTreeMap<String, Vec<u64>>,
    pub group_names: BTreeMap<String, String>,
    /// Object path -> where its link name sits in its parent group's local heap. Names
    /// are appended as links are created (h5py deletes none), so sorting siblings by it
    /// gives the order they were written: Keras's `model.layers` order, which the
    /// B-tree's name order and the object addresses (freed space is reused) do not keep.
    pub created: BTreeMap<String, u64>,
}

struct File<'a> {
    bytes: &'a [u8],
    offset_size: usize,
    length_size: usize,
    location: &'a str,
    visited: usize,
}

/// An object header's messages that the walk needs.
#[derive(Default)]
struct Header {
    symbol_table: Option<(u64, u64)>,
    dims: Option<Vec<u64>>,
    name: Option<String>,
}

pub fn read(bytes: &[u8], location: &str) -> Result<Tree> {
    if !bytes.starts_with(SIGNATURE) {
        return Err(Error::parse(
            location,
            "not an HDF5 file (no HDF5 signature)",
        ));
    }
    let mut file = File {
        bytes,
        offset_size: 8,
        length_size: 8,
        location,
        visited: 0,
    };
    let version = file.u8_at(8)?;
    if version > 1 {
        return Err(Error::parse(
            location,
            format!(
                "HDF5 superblock version {version} is not read (files h5py writes by default, as Keras does, use 0)"
            ),
        ));
    }
    file.offset_size = usize::from(file.u8_at(13)?);
    file.length_size = usize::from(file.u8_at(14)?);
    if !matches!(file.offset_size, 2 | 4 | 8) || !matches!(file.length_size, 2 | 4 | 8) {
        return Err(file.err("HDF5 superblock has invalid offset or length sizes"));
    }
    // Versions, sizes, K values, flags (24 bytes; version 1 adds 4), then four addresses
    // and the root group's symbol table entry, whose object header address is second.
    let root_entry = 24 + if version == 1 { 4 } else { 0 } + 4 * file.offset_size;
    let root = file.offset_at(root_entry + file.offset_size)?;
    let mut tree = Tree::default();
    file.walk(root, "", 0, &mut tree)?;
    Ok(tree)
}

impl File<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::parse(self.location, message.into())
    }

    fn slice(&self, at: u64, len: usize) -> Result<&[u8]> {
        usize::try_from(at)
            .ok()
            .and_then(|start| self.bytes.get(start..start.checked_add(len)?))
            .ok_or_else(|| self.err("HDF5 file is truncated or has an address past its end"))
    }

    fn u8_at(&self, at: usize) -> Result<u8> {
        Ok(self.slice(at as u64, 1)?[0])
    }

    fn uint(&self, at: u64, size: usize) -> Result<u64> {
        let b = self.slice(at, size)?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn offset_at(&self, at: usize) -> Result<u64> {
        self.uint(at as u64, self.offset_size)
    }

    fn expect(&self, at: u64, signature: &[u8; 4]) -> Result<()> {
        if self.slice(at, 4)? != signature {
            return Err(self.err(format!(
                "HDF5 structure at byte {at} is not a {}",
                String::from_utf8_lossy(signature)
            )));
        }
        Ok(())
    }

    fn walk(&mut self, header: u64, path: &str, depth: usize, tree: &mut Tree) -> Result<()> {
        self.visited += 1;
        if depth > MAX_DEPTH || self.visited > MAX_OBJECTS {
            return Err(self.err("HDF5 group tree is too deep or too large"));
        }
        let h = self.header(header)?;
        if let Some(dims) = h.dims.filter(|_| h.symbol_table.is_none()) {
            tree.datasets.insert(path.to_string(), dims);
            return Ok(());
        }
        if let Some(name) = h.name {
            tree.group_names.insert(path.to_string(), name);
        }
        if let Some((btree, heap)) = h.symbol_table {
            for (name, child, name_offset) in self.group_links(btree, heap, 0)? {
                let child_path = if path.is_empty() {
                    name
                } else {
                    format!("{path}/{name}")
                };
                tree.created.insert(child_path.clone(), name_offset);
                self.walk(child, &child_path, depth + 1, tree)?;
            }
        }
        Ok(())
    }

    /// The links of a symbol-table group: a version-1 B-tree of symbol table nodes whose
    /// names live in the group's local heap.
    /// (name, object header address, the name's offset in the local heap) per link.
    fn group_links(&self, btree: u64, heap: u64, depth: usize) -> Result<Vec<(String, u64, u64)>> {
        if depth > MAX_DEPTH {
            return Err(self.err("HDF5 group B-tree is too deep"));
        }
        self.expect(btree, b"TREE")?;
        let level = self.slice(btree + 5, 1)?[0];
        let entries = self.uint(btree + 6, 2)? as usize;
        let (o, l) = (self.offset_size as u64, self.length_size as u64);
        let first_child = btree + 8 + 2 * o + l;
        let mut links = Vec::new();
        for i in 0..entries as u64 {
            let child = self.uint(first_child + i * (o + l), self.offset_size)?;
            if level > 0 {
                links.extend(self.group_links(child, heap, depth + 1)?);
            } else {
                links.extend(self.symbol_node(child, heap)?);
            }
        }
        Ok(links)
    }

    fn symbol_node(&self, node: u64, heap: u64) -> Result<Vec<(String, u64, u64)>> {
        self.expect(node, b"SNOD")?;
        let count = self.uint(node + 6, 2)?;
        let o = self.offset_size as u64;
        let entry_size = 2 * o + 24;
        (0..count)
            .map(|i| {
                let entry = node + 8 + i * entry_size;
                let name_offset = self.uint(entry, self.offset_size)?;
                let header = self.uint(entry + o, self.offset_size)?;
                Ok((self.heap_name(heap, name_offset)?, header, name_offset))
            })
            .collect()
    }

    fn heap_name(&self, heap: u64, offset: u64) -> Result<String> {
        self.expect(heap, b"HEAP")?;
        let l = self.length_size as u64;
        let size = self.uint(heap + 8, self.length_size)?;
        let data = self.uint(heap + 8 + 2 * l, self.offset_size)?;
        if offset >= size {
            return Err(self.err("HDF5 link name lies outside its local heap"));
        }
        let bytes = self.slice(data + offset, (size - offset) as usize)?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
    }

    /// A version-1 object header, following continuation blocks.
    fn header(&self, at: u64) -> Result<Header> {
        if self.slice(at, 1)?[0] != 1 {
            return Err(self.err(format!(
                "HDF5 object header at byte {at} is not version 1 (files h5py writes by default use 1)"
            )));
        }
        let count = self.uint(at + 2, 2)?;
        let size = self.uint(at + 8, 4)?;
        let mut blocks = vec![(at + 16, size)];
        let mut out = Header::default();
        let mut seen = 0;
        while let Some((start, len)) = blocks.pop() {
            let mut pos = start;
            while pos + 8 <= start + len && seen < count {
                let kind = self.uint(pos, 2)?;
                let msg_size = self.uint(pos + 2, 2)?;
                let body = pos + 8;
                match kind {
                    0x0001 => out.dims = Some(self.dataspace(body)?),
                    0x0011 => {
                        out.symbol_table = Some((
                            self.uint(body, self.offset_size)?,
                            self.uint(body + self.offset_size as u64, self.offset_size)?,
                        ))
                    }
                    0x0010 => blocks.push((
                        self.uint(body, self.offset_size)?,
                        self.uint(body + self.offset_size as u64, self.length_size)?,
                    )),
                    0x000C => {
                        if let Some(name) = self.name_attribute(body)? {
                            out.name = Some(name);
                        }
                    }
                    _ => {}
                }
                seen += 1;
                pos = body + msg_size;
            }
        }
        Ok(out)
    }

    fn dataspace(&self, at: u64) -> Result<Vec<u64>> {
        let version = self.slice(at, 1)?[0];
        let rank = u64::from(self.slice(at + 1, 1)?[0]);
        let dims_at = match version {
            1 => at + 8,
            2 => at + 4,
            v => return Err(self.err(format!("HDF5 dataspace version {v} is not read"))),
        };
        let l = self.length_size as u64;
        (0..rank)
            .map(|i| self.uint(dims_at + i * l, self.length_size))
            .collect()
    }

    /// The value of a version-1 attribute called `name` holding one variable-length
    /// string (how h5py stores a Python `str`), or None for any other attribute.
    fn name_attribute(&self, at: u64) -> Result<Option<String>> {
        if self.slice(at, 1)?[0] != 1 {
            return Ok(None);
        }
        let name_size = self.uint(at + 2, 2)?;
        let type_size = self.uint(at + 4, 2)?;
        let space_size = self.uint(at + 6, 2)?;
        let pad8 = |n: u64| n.div_ceil(8) * 8;
        if self.slice(at + 8, name_size as usize)? != b"name\0" {
            return Ok(None);
        }
        let datatype = at + 8 + pad8(name_size);
        let class = self.slice(datatype, 1)?[0] & 0x0f;
        // Class 9 (variable length) of type 1 (string).
        if class != 9 || self.slice(datatype + 1, 1)?[0] & 0x0f != 1 {
            return Ok(None);
        }
        let data = datatype + pad8(type_size) + pad8(space_size);
        let length = self.uint(data, 4)? as usize;
        let collection = self.uint(data + 4, self.offset_size)?;
        let index = self.uint(data + 4 + self.offset_size as u64, 4)?;
        self.global_heap_object(collection, index, length).map(Some)
    }

    fn global_heap_object(&self, collection: u64, index: u64, length: usize) -> Result<String> {
        self.expect(collection, b"GCOL")?;
        let l = self.length_size as u64;
        let size = self.uint(collection + 8, self.length_size)?;
        let end = collection.saturating_add(size);
        let mut pos = collection + 8 + l;
        while pos + 8 + l <= end {
            let object = self.uint(pos, 2)?;
            let object_size = self.uint(pos + 8, self.length_size)?;
            if object == 0 {
                break;
            }
            if object == index {
                let bytes = self.slice(pos + 8 + l, length.min(object_size as usize))?;
                return Ok(String::from_utf8_lossy(bytes).into_owned());
            }
            pos = pos + 8 + l + object_size.div_ceil(8) * 8;
        }
        Err(self.err("HDF5 attribute refers to a missing global heap object"))
    }
}
