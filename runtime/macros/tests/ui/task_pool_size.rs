#[evl::task(pool_size = 0)]
async fn zero() {}

#[evl::task(pool = 2)]
async fn misspelt() {}

#[evl::task(pool_size = -1)]
async fn negative() {}

fn main() {}
