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

# "MODEL, N CPUs (FEATURES)" for a results heading: the CPU features that decide which oneDNN
# kernels charnn runs (bf16 and int8 on AVX-512 or on AMX tiles), so that figures from different
# machines are not read as one.
machine() {
  local features
  features=$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx512_vnni|avx512_bf16|amx_bf16|amx_int8' |
             paste -sd, | sed 's/,/, /g')
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs" \
       "(${features:-no AVX-512 VNNI or BF16})"
}

# binary_commit CHARNN: the commit the binary was built from, as its --version says ("3255274",
# "3255274-dirty" for a tree with uncommitted changes), so that a heading names what ran, not
# where the checkout stands (CHARNN is often an installed copy of an earlier commit); the
# checkout's HEAD when the binary does not say.
binary_commit() {
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/.*(commit \([0-9a-f]\{7\}\)[0-9a-f]*\(-dirty\)\{0,1\}).*/\1\2/p')
  [ -n "$v" ] || v=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  echo "$v"
}
