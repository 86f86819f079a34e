#[evl::main]
async fn main<T: Default>() {}
