# Sourced by tests/fuzz/run.sh and ci.sh: the fuzz targets (as in tests/fuzz/meson.build) and
# libFuzzer's -max_len for each, in bytes: room for the seeds to grow, small enough that
# executions stay fast and a compressed input cannot inflate past memory limits (deflate expands
# at most ~1000x, so an 8 KB gzip input decompresses to at most ~8 MB).
fuzz_targets=(idx idx_gz cifar checkpoint image safetensors npy npz cli explain)
declare -A fuzz_max_len=(
  [idx]=4096
  [idx_gz]=8192
  [cifar]=12400       # up to 4 records of 3073 bytes
  [checkpoint]=4096
  [image]=8192
  [safetensors]=4096
  [npy]=4096
  [npz]=8192
  [cli]=1024
  [explain]=1024
)
