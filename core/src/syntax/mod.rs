//! Identifier syntax.
