// Package bench measures socksd side by side with a reference in the same
// run and writes the report BENCHMARKS.md with SVG plots. `make bench` runs
// it as the test TestBenchmarks, which is skipped unless the environment
// variable SOCKSD_BENCH_OUT names the report file.
//
// Every figure in the report is measured in that run: the median, minimum
// and maximum of repeated runs of socksd and of its reference (plain
// loopback, OpenSSH `ssh -N -D` on the same sshd with the same cipher, or
// the raw FTP transfer), alternating between the two so that drift on the
// machine hits both alike, and the ratio of the medians. Nothing here
// asserts a timing: the benchmarks fail only when a transfer fails or
// carries the wrong number of bytes.
package bench
