//! Placeholder; filled in by the part that needs it first.
