{
  "variables": {
    "kq_sources": "node -p \"require('./native/sources.json')"
  },
  "target_defaults": {
    "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
    "cflags": ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fvisibility=hidden"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-ffp-contract=off", "-fno-fast-math", "-fvisibility=hidden"]
  },
  "targets": [
    {
      "target_name": "kq_avx2",
      "type": "static_library",
      "sources": ["<!@(<(kq_sources).avx2.join(' ')\")"],
      "cflags_cc": ["-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "kq_avx512",
      "type": "static_library",
      "sources": ["<!@(<(kq_sources).avx512.join(' ')\")"],
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "kquant",
      "dependencies": ["kq_avx2", "kq_avx512"],
      "conditions": [["OS=='linux'", {"ldflags": ["-Wl,-z,nodelete"]}]],
      "sources": [
        "<!@(<(kq_sources).core.join(' ')\")",
        "<!@(<(kq_sources).scalar.join(' ')\")",
        "<!@(<(kq_sources).no_cuda.join(' ')\")",
        "<!@(<(kq_sources).napi.join(' ')\")"
      ]
    }
  ]
}
