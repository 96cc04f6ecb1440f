# Shared by the bench scripts (sourced, not run).

# Percent of the CPUs busy over 3 seconds (the load average still counts a job that just ended).
busy() {
  local a b
  a=($(head -1 /proc/stat)); sleep 3; b=($(head -1 /proc/stat))
  awk -v u=$((b[1] + b[2] + b[3] - a[1] - a[2] - a[3])) \
      -v t=$((b[1] + b[2] + b[3] + b[4] + b[5] - a[1] - a[2] - a[3] - a[4] - a[5])) \
      'BEGIN { printf "%.0f", (t > 0 ? 100 * u / t : 0) }'
}

# median_min_max FILE NAME: "median min max" of the values of the lines "NAME VALUE" in FILE, or
# "- - -" when there are none.
median_min_max() {
  awk -v k="$2" '$1 == k { v[++n] = $2 } END {
    if (n == 0) { print "- - -"; exit }
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    printf "%s %s %s\n", m, v[1], v[n] }' "$1"
}
