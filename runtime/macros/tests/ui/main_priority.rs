#[evl::main(priority = 100)]
async fn hundred() {}

#[evl::main(priority = "high")]
async fn not_a_number() {}

fn main() {}
