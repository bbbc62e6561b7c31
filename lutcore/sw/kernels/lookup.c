/* The host fast path's lookup-and-sum loop in C (see native.py and gemm.py:_lookup_sum).

   out[r, c] (+)= sum_j tab[r, pos0 + j, code[c, j]]   for j < p

   The tables are the ones gemm.py builds: 256 entries per position (a storage byte indexes
   them directly), int16 or int32, in one of its two layouts:

     rows   tab[r * tab_stride + pos * 256 + code]   (few activation rows: each row's tables
                                                       contiguous)
     cols   tab[(pos * 256 + code) * m + r]          (many rows: one entry for all rows;
                                                       the sums come out transposed)

   The sums are int32 or int64, chosen by the caller so that the worst case of the whole
   GEMM fits: every partial sum here is a sum of a subset of the same terms, so it fits too
   and no addition overflows. Integer addition is exact, so the order of the additions (four
   independent partial sums below) does not change the result. */

#include <stddef.h>
#include <stdint.h>

#define ENTRIES 256
/* Output columns per block in the rows layout: their codes (at most a few hundred KiB)
   stay in cache while every activation row's tables pass over them. */
#define COLUMN_BLOCK 64
/* Positions per pass in the rows layout: one row's tables of a pass (int16: 128 KiB) stay in
   a core's L2 cache while every column is looked up in them. */
#ifndef POSITION_BLOCK
#define POSITION_BLOCK 256
#endif

#define LOOKUP_ROWS(NAME, T, A)                                                             \
    void NAME(const T *tab, int64_t m, int64_t tab_stride, const uint8_t *codes,          \
              int64_t n, int64_t p, int64_t code_stride, int64_t pos0, A *out,            \
              int64_t out_stride, int accumulate)                                         \
    {                                                                                      \
        for (int64_t j0 = 0; j0 < p; j0 += POSITION_BLOCK) {                               \
          int64_t j1 = j0 + POSITION_BLOCK < p ? j0 + POSITION_BLOCK : p;                  \
          int add = accumulate || j0 > 0;                                                  \
          for (int64_t c0 = 0; c0 < n; c0 += COLUMN_BLOCK) {                               \
            int64_t c1 = c0 + COLUMN_BLOCK < n ? c0 + COLUMN_BLOCK : n;                    \
            for (int64_t r = 0; r < m; r++) {                                              \
                const T *t = tab + r * tab_stride + pos0 * ENTRIES;                        \
                A *o = out + r * out_stride;                                               \
                for (int64_t c = c0; c < c1; c++) {                                        \
                    const uint8_t *code = codes + c * code_stride;                         \
                    A s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                      \
                    int64_t j = j0;                                                        \
                    for (; j + 4 <= j1; j += 4) {                                          \
                        s0 += t[(j + 0) * ENTRIES + code[j + 0]];                          \
                        s1 += t[(j + 1) * ENTRIES + code[j + 1]];                          \
                        s2 += t[(j + 2) * ENTRIES + code[j + 2]];                          \
                        s3 += t[(j + 3) * ENTRIES + code[j + 3]];                          \
                    }                                                                      \
                    for (; j < j1; j++)                                                    \
                        s0 += t[j * ENTRIES + code[j]];                                    \
                    A s = (s0 + s1) + (s2 + s3);                                           \
                    o[c] = add ? o[c] + s : s;                                             \
                }                                                                          \
            }                                                                              \
          }                                                                                \
        }                                                                                  \
    }

/* cols: the sums are kept transposed, outT[c, r], and the positions are taken in blocks
   whose tables (block * 256 * m entries) stay in cache while every column passes over
   them; outT is then read and written once per block, sequentially. */
#define LOOKUP_COLS(NAME, T, A)                                                             \
    void NAME(const T *tab, int64_t m, const uint8_t *codes, int64_t n, int64_t p,        \
              int64_t code_stride, int64_t pos0, A *outT, int64_t block, int accumulate)  \
    {                                                                                      \
        for (int64_t j0 = 0; j0 < p; j0 += block) {                                        \
            int64_t j1 = j0 + block < p ? j0 + block : p;                                  \
            int fresh = !accumulate && j0 == 0;                                            \
            for (int64_t c = 0; c < n; c++) {                                              \
                const uint8_t *code = codes + c * code_stride;                             \
                A *o = outT + c * m;                                                       \
                const T *row = tab + ((pos0 + j0) * ENTRIES + code[j0]) * m;               \
                if (fresh)                                                                 \
                    for (int64_t r = 0; r < m; r++)                                        \
                        o[r] = row[r];                                                     \
                else                                                                       \
                    for (int64_t r = 0; r < m; r++)                                        \
                        o[r] += row[r];                                                    \
                for (int64_t j = j0 + 1; j < j1; j++) {                                    \
                    row = tab + ((pos0 + j) * ENTRIES + code[j]) * m;                      \
                    for (int64_t r = 0; r < m; r++)                                        \
                        o[r] += row[r];                                                    \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

LOOKUP_ROWS(lookup_rows_i16_i32, int16_t, int32_t)
LOOKUP_ROWS(lookup_rows_i16_i64, int16_t, int64_t)
LOOKUP_ROWS(lookup_rows_i32_i32, int32_t, int32_t)
LOOKUP_ROWS(lookup_rows_i32_i64, int32_t, int64_t)
LOOKUP_COLS(lookup_cols_i16_i32, int16_t, int32_t)
LOOKUP_COLS(lookup_cols_i16_i64, int16_t, int64_t)
LOOKUP_COLS(lookup_cols_i32_i32, int32_t, int32_t)
LOOKUP_COLS(lookup_cols_i32_i64, int32_t, int64_t)
