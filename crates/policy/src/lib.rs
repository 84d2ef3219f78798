//! keystile policy (being written).
