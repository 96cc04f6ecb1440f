# Shared by the bench scripts (sourced, not run).

# Percent of the CPUs busy over 3 seconds (the load average still counts a job that just ended).
busy() {
  local a b
  a=($(head -1 /proc/stat)); sleep 3; b=($(head -1 /proc/stat))
  awk -v u=$((b[1] + b[2] + b[3] - a[1] - a[2] - a[3])) \
      -v t=$((b[1] + b[2] + b[3] + b[4] + b[5] - a[1] - a[2] - a[3] - a[4] - a[5])) \
      'BEGIN { printf "%.0f", (t > 0 ? 100 * u / t : 0) }'
}
