#[evl::test]
fn not_async() {}

#[evl::test]
#[test]
async fn test_twice() {}

#[evl::test(name = "has space")]
async fn bad_name() {}

#[evl::test]
async fn with_args(n: u32) {}

fn main() {}
