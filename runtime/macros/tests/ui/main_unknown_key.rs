#[evl::main(prio = 80)]
async fn misspelt() {}

#[evl::main(stack_size = 65536)]
async fn unknown() {}

#[evl::main(tasks = 8)]
async fn renamed() {}

#[evl::main(signals)]
async fn no_value() {}

#[evl::main(cpu = 1, cpu = 2)]
async fn twice() {}

fn main() {}
