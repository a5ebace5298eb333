//! Unit tests of the audit trail.
