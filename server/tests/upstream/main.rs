//! The upstream over real HTTP: the sample API served on port 0 as a separate upstream, the
//! reverse proxy served on another port 0 in front of it (or of a test upstream that echoes,
//! stalls or talks nonsense), and reqwest as the caller.

mod helpers;
mod proxy;
mod sample_api;
