//! The Merkle tree over the ledger: RFC 9162 (RFC 6962) hashing, tree heads, inclusion and
//! consistency proofs, and their verification.
//!
//! Owns the tree arithmetic only: a leaf is `SHA-256(0x00 ‖ data)`, a node is
//! `SHA-256(0x01 ‖ left ‖ right)`, a tree of `n` leaves splits at the largest power of two
//! below `n`, the empty tree hashes to `SHA-256("")`. Pure: takes leaf hashes, returns hashes;
//! never reads the ledger nor decides what a leaf is (`ledger` says: an entry's encoding).

use sha2::{Digest, Sha256};

use crate::pure::model::Sha256Hash;

/// The hash of a leaf whose data is `data`.
pub fn leaf_hash(data: &[u8]) -> Sha256Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Sha256Hash(h.finalize().into())
}

/// The hash of an interior node.
pub fn node_hash(left: &Sha256Hash, right: &Sha256Hash) -> Sha256Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Sha256Hash(h.finalize().into())
}

/// The largest power of two strictly below `n` (for `n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root hash of the tree whose leaves have these hashes.
pub fn root(leaves: &[Sha256Hash]) -> Sha256Hash {
    match leaves.len() {
        0 => Sha256Hash::of(b""),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// Why a proof cannot be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is not in a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a tree of {old} leaves cannot be a prefix of one of {new}")]
    SizeOrder { old: u64, new: u64 },
    #[error("the proof has {got} hashes where {expected} are needed")]
    Length { got: usize, expected: usize },
    #[error("the proof leads to root {computed}, not to {expected}")]
    Mismatch {
        computed: Sha256Hash,
        expected: Sha256Hash,
    },
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 9162 section 2.1.3.1), from the
/// leaf's sibling up to the root's child.
pub fn inclusion_proof(leaves: &[Sha256Hash], index: u64) -> Result<Vec<Sha256Hash>, ProofError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut path = Vec::new();
    path_into(leaves, index as usize, &mut path);
    Ok(path)
}

fn path_into(leaves: &[Sha256Hash], m: usize, out: &mut Vec<Sha256Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_into(&leaves[..k], m, out);
        out.push(root(&leaves[k..]));
    } else {
        path_into(&leaves[k..], m - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// The consistency proof that the first `old` leaves are a prefix of `leaves` (RFC 9162
/// section 2.1.4.1). Empty when `old` is 0 or the whole tree.
pub fn consistency_proof(leaves: &[Sha256Hash], old: u64) -> Result<Vec<Sha256Hash>, ProofError> {
    let new = leaves.len() as u64;
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    let mut out = Vec::new();
    if old > 0 && old < new {
        subproof(old as usize, leaves, true, &mut out);
    }
    Ok(out)
}

fn subproof(m: usize, leaves: &[Sha256Hash], complete: bool, out: &mut Vec<Sha256Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`
/// (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Sha256Hash,
    proof: &[Sha256Hash],
    expected: &Sha256Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::Length {
                got: proof.len(),
                expected: inclusion_len(index, size),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Length {
            got: proof.len(),
            expected: inclusion_len(index, size),
        });
    }
    if r != *expected {
        return Err(ProofError::Mismatch {
            computed: r,
            expected: *expected,
        });
    }
    Ok(())
}

fn inclusion_len(index: u64, size: u64) -> usize {
    let mut n = 0;
    let (mut f, mut s) = (index, size - 1);
    while s != 0 {
        if f & 1 == 1 || f == s {
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        }
        f >>= 1;
        s >>= 1;
        n += 1;
    }
    n
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of the tree of `new`
/// leaves with root `new_root` (RFC 9162 section 2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Sha256Hash,
    new_root: &Sha256Hash,
    proof: &[Sha256Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == new || old == 0 {
        if !proof.is_empty() {
            return Err(ProofError::Length {
                got: proof.len(),
                expected: 0,
            });
        }
        if old == new && old_root != new_root {
            return Err(ProofError::Mismatch {
                computed: *old_root,
                expected: *new_root,
            });
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::Length {
            got: 0,
            expected: 1,
        });
    }
    // If old is an exact power of two, the old root is the first node of the path.
    let mut path: Vec<Sha256Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if s_n == 0 {
            return Err(ProofError::Length {
                got: proof.len(),
                expected: proof.len() - 1,
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Length {
            got: proof.len(),
            expected: proof.len() + 1,
        });
    }
    if fr != *old_root {
        return Err(ProofError::Mismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(ProofError::Mismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6962 test leaves (certificate-transparency's reference set).
    fn rfc_leaves() -> Vec<Sha256Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| leaf_hash(&hex::decode(h).unwrap()))
        .collect()
    }

    const RFC_ROOTS: [&str; 9] = [
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

    fn h(s: &str) -> Sha256Hash {
        s.parse().unwrap()
    }

    fn hs(v: &[&str]) -> Vec<Sha256Hash> {
        v.iter().map(|s| h(s)).collect()
    }

    #[test]
    fn roots_match_the_rfc_test_vectors_for_every_size() {
        let leaves = rfc_leaves();
        for n in 0..=8 {
            assert_eq!(root(&leaves[..n]), h(RFC_ROOTS[n]), "size {n}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_rfc_test_vectors() {
        let leaves = rfc_leaves();
        let cases: [(u64, usize, &[&str]); 4] = [
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
        ];
        for (index, size, expected) in cases {
            let proof = inclusion_proof(&leaves[..size], index).unwrap();
            assert_eq!(proof, hs(expected), "leaf {index} of {size}");
            verify_inclusion(
                index,
                size as u64,
                &leaves[index as usize],
                &proof,
                &h(RFC_ROOTS[size]),
            )
            .unwrap();
        }
    }

    #[test]
    fn consistency_proofs_match_the_rfc_test_vectors() {
        let leaves = rfc_leaves();
        let cases: [(u64, usize, &[&str]); 4] = [
            (1, 1, &[]),
            (
                2,
                8,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, expected) in cases {
            let proof = consistency_proof(&leaves[..new], old).unwrap();
            assert_eq!(proof, hs(expected), "{old} -> {new}");
            verify_consistency(
                old,
                new as u64,
                &h(RFC_ROOTS[old as usize]),
                &h(RFC_ROOTS[new]),
                &proof,
            )
            .unwrap();
        }
    }

    #[test]
    fn every_proof_of_every_small_tree_verifies_and_a_changed_one_does_not() {
        let leaves: Vec<_> = (0u32..40).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let roots: Vec<_> = (0..=leaves.len()).map(|n| root(&leaves[..n])).collect();
        for n in 1..=leaves.len() {
            let tree = &leaves[..n];
            for i in 0..n {
                let p = inclusion_proof(tree, i as u64).unwrap();
                verify_inclusion(i as u64, n as u64, &tree[i], &p, &roots[n]).unwrap();
                if n > 1 {
                    let wrong = (i + 1) % n;
                    assert!(
                        verify_inclusion(wrong as u64, n as u64, &tree[i], &p, &roots[n]).is_err()
                            || tree[wrong] == tree[i]
                    );
                    let mut bad = p.clone();
                    bad[0].0[0] ^= 1;
                    assert!(
                        verify_inclusion(i as u64, n as u64, &tree[i], &bad, &roots[n]).is_err()
                    );
                    assert!(
                        verify_inclusion(i as u64, n as u64, &tree[i], &p[1..], &roots[n]).is_err()
                    );
                }
            }
            for m in 0..=n {
                let p = consistency_proof(tree, m as u64).unwrap();
                verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &p).unwrap();
                if !p.is_empty() {
                    let mut bad = p.clone();
                    let last = bad.len() - 1;
                    bad[last].0[31] ^= 1;
                    assert!(
                        verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &bad).is_err()
                    );
                }
                if m > 0 && m < n {
                    // A different old root (a rewritten prefix) is refused.
                    let other = leaf_hash(b"forged");
                    assert!(verify_consistency(m as u64, n as u64, &other, &roots[n], &p).is_err());
                }
            }
        }
    }
}
