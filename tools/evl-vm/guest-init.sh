#!/bin/bash
# PID 1 in the guest booted by run.sh. The root is the host's, read-only over 9p;
# run.sh's results share (tag evlvmout) holds cmd.sh and receives stdout, stderr, status.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/shm /dev/pts
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs shm /dev/shm
mount -t devpts pts /dev/pts
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
ip link set lo up
o=/run/evl-vm
mkdir -p $o
mount -t 9p -o trans=virtio,version=9p2000.L evlvmout $o
echo "evl-vm: $(uname -r), $(nproc) cpus, /dev/evl: $(echo /dev/evl/*)" >/dev/console
bash $o/cmd.sh >$o/stdout 2>$o/stderr </dev/null
echo $? >$o/status
echo "evl-vm: exit status $(cat $o/status)" >/dev/console
umount $o
echo o >/proc/sysrq-trigger
sleep 10
