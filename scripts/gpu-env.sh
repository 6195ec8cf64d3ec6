#!/usr/bin/env bash
# Sourced by the GPU-machine scripts: finds libnvrtc and libcublas (system
# CUDA, or the nvidia-* wheels that PyTorch installs) and puts their folders
# on LD_LIBRARY_PATH, since blitz loads them at run time.
echo "== CUDA libraries"
roots=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu)
for py in python3 python; do
    if command -v "$py" >/dev/null; then
        while IFS= read -r d; do roots+=("$d"); done < <("$py" - <<'PY' 2>/dev/null
import site, sys, os
for p in site.getsitepackages() + [site.getusersitepackages()]:
    n = os.path.join(p, "nvidia")
    if os.path.isdir(n):
        print(n)
PY
)
        break
    fi
done
libdirs=""
for lib in 'libnvrtc.so*' 'libcublas.so*' 'libcublasLt.so*'; do
    found="$(find "${roots[@]}" -maxdepth 4 -name "$lib" 2>/dev/null | grep -v builtins | grep -v /stubs/ | sort -V | tail -n1)"
    if [ -n "$found" ]; then
        echo "  $lib -> $found"
        d="$(dirname "$found")"
        case ":$libdirs:" in *":$d:"*) ;; *) libdirs="${libdirs:+$libdirs:}$d" ;; esac
    else
        echo "  $lib: not found under ${roots[*]} (the loader's default path is still tried)"
    fi
done
export LD_LIBRARY_PATH="${libdirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
