// The one SIMD abstraction of the kernel layer: float and int32 vectors of simd::lanes lanes,
// lane masks, and the few operations the hand-written kernels need (masked loads and stores for
// short rows, compare and select, even/odd (de)interleaving for 2x2 windows). One definition
// per path: AVX-512 (16 lanes, k-masks), AVX2 (8 lanes, vector masks), SSE2 (4 lanes, the
// x86-64 baseline; masked loads and stores done lane by lane). Elsewhere lanes == 0 and the
// kernels use their scalar loops. Included only through isa_begin.h.
//
// Masked loads never touch a masked-off lane, so a pointer may run past (or before) a row as
// long as the lanes that are read stay inside it.
#pragma once

namespace dagrad::kernels::DAGRAD_ISA_NS::simd {

#if defined(__x86_64__) && DAGRAD_ISA_LEVEL == 2
inline constexpr int lanes = 16;
using F = __m512;
using I = __m512i;
using M = __mmask16;

inline M mask_range(int64_t a, int64_t b) {  // lanes [a, b), clamped to [0, lanes)
  a = a < 0 ? 0 : (a > lanes ? lanes : a);
  b = b < a ? a : (b > lanes ? lanes : b);
  return static_cast<M>(((1u << b) - 1) & ~((1u << a) - 1));
}
inline F load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, F v) { _mm512_storeu_ps(p, v); }
inline F load(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
inline void store(float* p, M m, F v) { _mm512_mask_storeu_ps(p, m, v); }
inline I load(const int32_t* p, M m) { return _mm512_maskz_loadu_epi32(m, p); }
inline void store(int32_t* p, M m, I v) { _mm512_mask_storeu_epi32(p, m, v); }
inline F zero() { return _mm512_setzero_ps(); }
inline I splat(int32_t v) { return _mm512_set1_epi32(v); }
inline I lane_index() {
  return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
inline F add(F a, F b) { return _mm512_add_ps(a, b); }
inline I add(I a, I b) { return _mm512_add_epi32(a, b); }
inline I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
inline M either(M a, M b) { return a | b; }
inline M greater(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
inline M is_nan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
inline M equal(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }
inline F select(M m, F yes, F no) { return _mm512_mask_mov_ps(no, m, yes); }
inline I select(M m, I yes, I no) { return _mm512_mask_mov_epi32(no, m, yes); }
inline F zero_unless(M m, F v) { return _mm512_maskz_mov_ps(m, v); }
// lo, hi = p[0, lanes), p[lanes, 2 lanes)  ->  even = p[0, 2, 4, ...], odd = p[1, 3, 5, ...]
inline void deinterleave(F lo, F hi, F& even, F& odd) {
  const I e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  even = _mm512_permutex2var_ps(lo, e, hi);
  odd = _mm512_permutex2var_ps(lo, _mm512_add_epi32(e, _mm512_set1_epi32(1)), hi);
}
// The inverse: lo, hi = (e0 o0 e1 o1 ...) split into two vectors.
inline void interleave(F even, F odd, F& lo, F& hi) {
  const I a = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  lo = _mm512_permutex2var_ps(even, a, odd);
  hi = _mm512_permutex2var_ps(even, _mm512_add_epi32(a, _mm512_set1_epi32(8)), odd);
}

#elif defined(__x86_64__) && DAGRAD_ISA_LEVEL == 1
inline constexpr int lanes = 8;
using F = __m256;
using I = __m256i;
using M = __m256i;  // all-ones lanes

inline I lane_index() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
inline M mask_range(int64_t a, int64_t b) {
  a = a < 0 ? 0 : (a > lanes ? lanes : a);
  b = b < a ? a : (b > lanes ? lanes : b);
  const I i = lane_index();
  return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(a)), i),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(b)), i));
}
inline F load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, F v) { _mm256_storeu_ps(p, v); }
inline F load(const float* p, M m) { return _mm256_maskload_ps(p, m); }
inline void store(float* p, M m, F v) { _mm256_maskstore_ps(p, m, v); }
inline I load(const int32_t* p, M m) { return _mm256_maskload_epi32(p, m); }
inline void store(int32_t* p, M m, I v) { _mm256_maskstore_epi32(p, m, v); }
inline F zero() { return _mm256_setzero_ps(); }
inline I splat(int32_t v) { return _mm256_set1_epi32(v); }
inline F add(F a, F b) { return _mm256_add_ps(a, b); }
inline I add(I a, I b) { return _mm256_add_epi32(a, b); }
inline I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
inline M either(M a, M b) { return _mm256_or_si256(a, b); }
inline M greater(F a, F b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
inline M is_nan(F a) { return _mm256_castps_si256(_mm256_cmp_ps(a, a, _CMP_UNORD_Q)); }
inline M equal(I a, I b) { return _mm256_cmpeq_epi32(a, b); }
inline F select(M m, F yes, F no) { return _mm256_blendv_ps(no, yes, _mm256_castsi256_ps(m)); }
inline I select(M m, I yes, I no) { return _mm256_blendv_epi8(no, yes, m); }
inline F zero_unless(M m, F v) { return _mm256_and_ps(_mm256_castsi256_ps(m), v); }
inline void deinterleave(F lo, F hi, F& even, F& odd) {
  // within each 128-bit half: (lo0 lo2 hi0 hi2), then the 64-bit pairs put in order
  const F e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  const F o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}
inline void interleave(F even, F odd, F& lo, F& hi) {
  const F a = _mm256_unpacklo_ps(even, odd), b = _mm256_unpackhi_ps(even, odd);
  lo = _mm256_permute2f128_ps(a, b, 0x20);
  hi = _mm256_permute2f128_ps(a, b, 0x31);
}

#elif defined(__x86_64__)
inline constexpr int lanes = 4;
using F = __m128;
using I = __m128i;
using M = __m128i;  // all-ones lanes

inline I lane_index() { return _mm_setr_epi32(0, 1, 2, 3); }
inline M mask_range(int64_t a, int64_t b) {
  a = a < 0 ? 0 : (a > lanes ? lanes : a);
  b = b < a ? a : (b > lanes ? lanes : b);
  const I i = lane_index();
  return _mm_andnot_si128(_mm_cmpgt_epi32(_mm_set1_epi32(static_cast<int32_t>(a)), i),
                          _mm_cmpgt_epi32(_mm_set1_epi32(static_cast<int32_t>(b)), i));
}
inline int bits(M m) { return _mm_movemask_ps(_mm_castsi128_ps(m)); }
inline F load(const float* p) { return _mm_loadu_ps(p); }
inline void store(float* p, F v) { _mm_storeu_ps(p, v); }
// SSE2 has no masked moves: whole vectors when every lane is on, else lane by lane.
inline F load(const float* p, M m) {
  const int b = bits(m);
  if (b == 0xF) return _mm_loadu_ps(p);
  alignas(16) float t[4] = {0, 0, 0, 0};
  for (int k = 0; k < 4; ++k)
    if (b >> k & 1) t[k] = p[k];
  return _mm_load_ps(t);
}
inline void store(float* p, M m, F v) {
  const int b = bits(m);
  if (b == 0xF) return _mm_storeu_ps(p, v);
  alignas(16) float t[4];
  _mm_store_ps(t, v);
  for (int k = 0; k < 4; ++k)
    if (b >> k & 1) p[k] = t[k];
}
inline I load(const int32_t* p, M m) {
  alignas(16) int32_t t[4] = {0, 0, 0, 0};
  const int b = bits(m);
  for (int k = 0; k < 4; ++k)
    if (b >> k & 1) t[k] = p[k];
  return _mm_load_si128(reinterpret_cast<const I*>(t));
}
inline void store(int32_t* p, M m, I v) {
  alignas(16) int32_t t[4];
  _mm_store_si128(reinterpret_cast<I*>(t), v);
  const int b = bits(m);
  for (int k = 0; k < 4; ++k)
    if (b >> k & 1) p[k] = t[k];
}
inline F zero() { return _mm_setzero_ps(); }
inline I splat(int32_t v) { return _mm_set1_epi32(v); }
inline F add(F a, F b) { return _mm_add_ps(a, b); }
inline I add(I a, I b) { return _mm_add_epi32(a, b); }
inline I sub(I a, I b) { return _mm_sub_epi32(a, b); }
inline M either(M a, M b) { return _mm_or_si128(a, b); }
inline M greater(F a, F b) { return _mm_castps_si128(_mm_cmpgt_ps(a, b)); }
inline M is_nan(F a) { return _mm_castps_si128(_mm_cmpunord_ps(a, a)); }
inline M equal(I a, I b) { return _mm_cmpeq_epi32(a, b); }
inline F select(M m, F yes, F no) {
  const F k = _mm_castsi128_ps(m);
  return _mm_or_ps(_mm_and_ps(k, yes), _mm_andnot_ps(k, no));
}
inline I select(M m, I yes, I no) {
  return _mm_or_si128(_mm_and_si128(m, yes), _mm_andnot_si128(m, no));
}
inline F zero_unless(M m, F v) { return _mm_and_ps(_mm_castsi128_ps(m), v); }
inline void deinterleave(F lo, F hi, F& even, F& odd) {
  even = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  odd = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
}
inline void interleave(F even, F odd, F& lo, F& hi) {
  lo = _mm_unpacklo_ps(even, odd);
  hi = _mm_unpackhi_ps(even, odd);
}

#else
// No vector code here (aarch64 for now): the kernels run their scalar loops. The operations are
// declared, never defined, so that the vector branches (`if constexpr (simd::lanes > 0)`,
// discarded here) still compile.
inline constexpr int lanes = 0;
struct F {};
struct I {};
using M = int;
M mask_range(int64_t a, int64_t b);
F load(const float* p);
void store(float* p, F v);
F load(const float* p, M m);
void store(float* p, M m, F v);
I load(const int32_t* p, M m);
void store(int32_t* p, M m, I v);
F zero();
I splat(int32_t v);
I lane_index();
F add(F a, F b);
I add(I a, I b);
I sub(I a, I b);
M either(M a, M b);
M greater(F a, F b);
M is_nan(F a);
M equal(I a, I b);
F select(M m, F yes, F no);
I select(M m, I yes, I no);
F zero_unless(M m, F v);
void deinterleave(F lo, F hi, F& even, F& odd);
void interleave(F even, F odd, F& lo, F& hi);
#endif

// The lowest n lanes.
inline M mask_first(int64_t n) { return mask_range(0, n); }

}  // namespace dagrad::kernels::DAGRAD_ISA_NS::simd
