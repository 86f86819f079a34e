#[evl::task]
async fn generic<T: Send + 'static>(value: T) {}

#[evl::task]
async fn impl_arg(value: impl Send + 'static) {}

#[evl::task]
async fn borrowed(name: &str) {}

fn main() {}
