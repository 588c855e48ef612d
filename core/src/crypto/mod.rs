//! Keys and signatures.
