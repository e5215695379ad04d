// The constants of the float erf and exp approximations behind the fast GELU (kernels/gelu.h),
// shared by the AVX2 code in gelu.cpp and its AVX-512 twin in gelu_avx512.cpp so the two
// cannot drift apart (they must give the same bits). Polynomials are listed highest degree
// first, as Horner's rule consumes them. How the fits were made: see erf_avx2 in gelu.cpp.
#pragma once

namespace pmx::kernels::gelu_coeffs {

// erf(z) ~= z P(z^2) / Q(z^2) for |z| <= kErfClamp; beyond it erf is +-1 in float.
constexpr float kErfClamp = 3.92f;
constexpr float kErfP[7] = {1.9917291292217287e-8f, -1.9471778378556419e-6f, 1.3982728455499368e-4f,
                            3.6247190718425112e-3f, 5.0337609572704405e-2f,  1.9817541067302953e-1f,
                            1.1283791670955126f};
constexpr float kErfQ[5] = {9.3677407001384815e-4f, 1.4200452605136041e-2f, 1.1427102597842555e-1f,
                            5.0896065288069947e-1f, 1.f};

// exp(t), t in [-87, 0] (Cephes expf): t = n ln2 + r, ln2 split in a high and a low part so r
// carries no rounding, exp(r) ~= 1 + r + r^2 P(r).
constexpr float kExpMin = -87.f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kExpP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

}  // namespace pmx::kernels::gelu_coeffs
