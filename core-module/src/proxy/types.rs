//! What the proxy front end and its backends share: the outcome of a write.

/// What one [`Proxy::write`](crate::proxy::Proxy::write) did with the bytes it was given.
///
/// `written + dropped` is always the length of the buffer passed in. The written part is a
/// prefix of that buffer; it reaches the target in order, after everything accepted before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyWrite {
    /// Bytes accepted into the proxy's buffer; they will reach the target.
    pub written: usize,
    /// Bytes that did not fit and were discarded (also added to [`Proxy::dropped`](crate::proxy::Proxy::dropped)).
    pub dropped: usize,
}
