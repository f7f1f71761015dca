//! RFC 6962 / RFC 9162 Merkle tree hashing with SHA-256, unchanged.
//!
//! - leaf hash = SHA-256(0x00 || leaf bytes), node hash = SHA-256(0x01 || left || right);
//! - the root of the empty tree is SHA-256("");
//! - a tree of n > 1 leaves splits at k, the largest power of two strictly smaller than n.
//!
//! Inclusion and consistency proofs follow RFC 9162 sections 2.1.3 and 2.1.4, so any
//! Certificate-Transparency-style verifier (or the shipped `verify.py`) can check them. Every
//! function here is pure and cannot fail; verification returns `false` rather than an error.

use sha2::{Digest, Sha256};

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// SHA-256 of nothing: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(leaf);
    hasher.finalize().into()
}

pub(crate) fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The Merkle tree hash of a list of leaf hashes.
///
/// Computed bottom-up: pairing neighbours level by level and carrying a lone last node up
/// unchanged builds exactly the left-complete tree of RFC 6962's recursive definition, in
/// O(n) hashes and O(n) memory for the first level only.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        _ => {
            let mut level: Vec<Hash> = leaves.chunks(2).map(pair).collect();
            while level.len() > 1 {
                level = level.chunks(2).map(pair).collect();
            }
            level[0]
        }
    }
}

fn pair(chunk: &[Hash]) -> Hash {
    match chunk {
        [left, right] => node_hash(left, right),
        [lone] => *lone,
        _ => empty_root(),
    }
}

/// The right edge of a growing tree: the roots of its perfect subtrees, largest first. Appending
/// a leaf and reading the root are O(log n), which lets a verifier check the root after every
/// run without recomputing the whole log.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// (height, hash) of each perfect subtree, left to right.
    nodes: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    pub(crate) fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.nodes.last() {
            if height != node.0 {
                break;
            }
            self.nodes.pop();
            node = (height + 1, node_hash(&left, &node.1));
        }
        self.nodes.push(node);
        self.size += 1;
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root of the leaves pushed so far.
    pub(crate) fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&(_, mut root)) = iter.next() else {
            return empty_root();
        };
        for (_, left) in iter {
            root = node_hash(left, &root);
        }
        root
    }
}

/// Largest power of two strictly smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    debug_assert!(n > 1);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `leaves`, leaf to root.
/// Empty when `index` is out of range.
pub(crate) fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let mut proof = Vec::new();
    if index < leaves.len() {
        path(index, leaves, &mut proof);
    }
    proof
}

fn path(index: usize, leaves: &[Hash], proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        path(index, &leaves[..k], proof);
        proof.push(root(&leaves[k..]));
    } else {
        path(index - k, &leaves[k..], proof);
        proof.push(root(&leaves[..k]));
    }
}

/// RFC 9162 2.1.3.2: does `proof` show `leaf` at `index` in a tree of `size` with `root`?
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    expected_root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && &r == expected_root
}

/// The consistency proof between the first `old_size` leaves and all of `leaves`
/// (RFC 9162 2.1.4.1). Empty when `old_size` is 0, equal to the size, or out of range.
pub(crate) fn consistency_proof(leaves: &[Hash], old_size: usize) -> Vec<Hash> {
    let mut proof = Vec::new();
    if old_size > 0 && old_size < leaves.len() {
        subproof(old_size, leaves, true, &mut proof);
    }
    proof
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// RFC 9162 2.1.4.2: is the tree of `old_size` with `old_root` a prefix of the tree of
/// `new_size` with `new_root`? Size 0 is consistent with everything (the empty proof).
pub(crate) fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == 0 {
        return proof.is_empty();
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    // When old_size is a power of two the old root itself starts the proof.
    let mut nodes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        nodes.push(*old_root);
    }
    nodes.extend_from_slice(proof);
    let Some((first, rest)) = nodes.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && &fr == old_root && &sr == new_root
}

#[cfg(test)]
mod tests {
    use super::*;

    /// transparency-dev/merkle testonly leaves and roots (docs/ledger-format.md).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn reference_leaves() -> Vec<Hash> {
        LEAVES
            .iter()
            .map(|h| leaf_hash(&hex::decode(h).unwrap()))
            .collect()
    }

    #[test]
    fn reference_roots_for_sizes_0_to_8() {
        let leaves = reference_leaves();
        for (size, expected) in ROOTS.iter().enumerate() {
            assert_eq!(hex::encode(root(&leaves[..size])), *expected, "size {size}");
        }
    }

    #[test]
    fn the_frontier_gives_the_root_at_every_size() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), empty_root());
        for (i, leaf) in leaves.iter().enumerate() {
            frontier.push(*leaf);
            assert_eq!(frontier.root(), root(&leaves[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn every_inclusion_and_consistency_proof_of_the_reference_tree_verifies() {
        let leaves = reference_leaves();
        for size in 1..=8usize {
            let tree = &leaves[..size];
            let r = root(tree);
            for index in 0..size {
                let proof = inclusion_proof(tree, index);
                assert!(verify_inclusion(
                    index as u64,
                    size as u64,
                    &tree[index],
                    &proof,
                    &r
                ));
                // The same proof must not verify another leaf or position.
                let other = leaf_hash(b"other");
                assert!(!verify_inclusion(
                    index as u64,
                    size as u64,
                    &other,
                    &proof,
                    &r
                ));
                if size > 1 {
                    assert!(!verify_inclusion(
                        ((index + 1) % size) as u64,
                        size as u64,
                        &tree[index],
                        &proof,
                        &r
                    ));
                }
            }
            for old in 0..=size {
                let proof = consistency_proof(tree, old);
                let old_root = root(&leaves[..old]);
                assert!(
                    verify_consistency(old as u64, size as u64, &old_root, &r, &proof),
                    "{old} -> {size}"
                );
                if old > 0 && old < size {
                    let wrong = leaf_hash(b"x");
                    assert!(!verify_consistency(
                        old as u64,
                        size as u64,
                        &wrong,
                        &r,
                        &proof
                    ));
                    assert!(!verify_consistency(
                        old as u64,
                        size as u64,
                        &old_root,
                        &wrong,
                        &proof
                    ));
                }
            }
        }
    }

    mod against_ct_merkle {
        use super::super::*;
        use ct_merkle::mem_backed_tree::MemoryBackedTree;
        use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
        use proptest::prelude::*;
        use sha2::Sha256;

        fn oracle(leaves: &[Vec<u8>]) -> MemoryBackedTree<Sha256, Vec<u8>> {
            let mut tree = MemoryBackedTree::new();
            for leaf in leaves {
                tree.push(leaf.clone());
            }
            tree
        }

        fn flat(path: &[Hash]) -> Vec<u8> {
            path.concat()
        }

        fn split_hashes(bytes: &[u8]) -> Vec<Hash> {
            bytes.chunks(32).map(|c| c.try_into().unwrap()).collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            #[test]
            fn roots_and_proofs_match_ct_merkle(
                leaves in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..=1000),
                pick in any::<prop::sample::Index>(),
                old_pick in any::<prop::sample::Index>(),
            ) {
                let tree = oracle(&leaves);
                let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
                let ours = root(&hashes);
                let their_root: RootHash<Sha256> = tree.root();
                prop_assert_eq!(ours.as_slice(), their_root.as_bytes().as_slice());
                if leaves.is_empty() {
                    return Ok(());
                }
                let n = leaves.len();

                // Inclusion: same bytes as ct-merkle, and each side accepts the other's proof.
                let index = pick.index(n);
                let proof = inclusion_proof(&hashes, index);
                let theirs = tree.prove_inclusion(index);
                prop_assert_eq!(flat(&proof), theirs.as_bytes().to_vec());
                prop_assert!(verify_inclusion(index as u64, n as u64, &hashes[index], &split_hashes(theirs.as_bytes()), &ours));
                prop_assert!(their_root.verify_inclusion(&leaves[index], index as u64, &InclusionProof::<Sha256>::from_bytes(flat(&proof))).is_ok());

                // Consistency from every kind of older size.
                let old = 1 + old_pick.index(n);
                let proof = consistency_proof(&hashes, old);
                let old_root = root(&hashes[..old]);
                prop_assert!(verify_consistency(old as u64, n as u64, &old_root, &ours, &proof));
                if old < n {
                    let theirs = tree.prove_consistency(n - old);
                    prop_assert_eq!(flat(&proof), theirs.as_bytes().to_vec());
                    let old_tree = oracle(&leaves[..old]);
                    let parsed = ConsistencyProof::<Sha256>::try_from_bytes(flat(&proof)).unwrap();
                    prop_assert!(their_root.verify_consistency(&old_tree.root(), &parsed).is_ok());
                }
            }
        }
    }
}
