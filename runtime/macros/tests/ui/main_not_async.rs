#[evl::main]
fn main() {}
