//! The Merkle Search Tree.
