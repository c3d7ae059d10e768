#include "textflag.h"

// func dot32AVX2(a, b *float32, n int) float32
TEXT ·dot32AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
loop32:
	CMPQ CX, $32
	JL   loop8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32
loop8:
	CMPQ CX, $8
	JL   reduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8
reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
tail:
	CMPQ CX, $0
	JE   done
	VMOVSS (SI), X1
	VMULSS (DI), X1, X1
	VADDSS X1, X0, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  tail
done:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dot64AVX2(a, b *float32, n int) float64
TEXT ·dot64AVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
loop8:
	CMPQ CX, $8
	JL   loop4
	VCVTPS2PD (SI), Y4
	VCVTPS2PD (DI), Y5
	VCVTPS2PD 16(SI), Y6
	VCVTPS2PD 16(DI), Y7
	VFMADD231PD Y5, Y4, Y0
	VFMADD231PD Y7, Y6, Y1
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8
loop4:
	CMPQ CX, $4
	JL   reduce
	VCVTPS2PD (SI), Y4
	VCVTPS2PD (DI), Y5
	VFMADD231PD Y5, Y4, Y0
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JMP  loop4
reduce:
	VADDPD Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VHADDPD X0, X0, X0
tail:
	CMPQ CX, $0
	JE   done
	VCVTSS2SD (SI), X1, X1
	VCVTSS2SD (DI), X2, X2
	VMULSD X2, X1, X1
	VADDSD X1, X0, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  tail
done:
	VZEROUPPER
	MOVSD X0, ret+24(FP)
	RET

// func dot8AVX2(a, b *int8, n int) int32
TEXT ·dot8AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y3, Y3, Y3
loop32:
	CMPQ CX, $32
	JL   loop16
	VPMOVSXBW (SI), Y1
	VPMOVSXBW (DI), Y2
	VPMADDWD Y2, Y1, Y1
	VPADDD Y1, Y0, Y0
	VPMOVSXBW 16(SI), Y4
	VPMOVSXBW 16(DI), Y5
	VPMADDWD Y5, Y4, Y4
	VPADDD Y4, Y3, Y3
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $32, CX
	JMP  loop32
loop16:
	CMPQ CX, $16
	JL   reduce
	VPMOVSXBW (SI), Y1
	VPMOVSXBW (DI), Y2
	VPMADDWD Y2, Y1, Y1
	VPADDD Y1, Y0, Y0
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $16, CX
reduce:
	VPADDD Y3, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPADDD X1, X0, X0
	VMOVD X0, AX
tail:
	CMPQ CX, $0
	JE   done
	MOVBQSX (SI), BX
	MOVBQSX (DI), DX
	IMULQ DX, BX
	ADDL BX, AX
	INCQ SI
	INCQ DI
	DECQ CX
	JMP  tail
done:
	VZEROUPPER
	MOVL AX, ret+24(FP)
	RET

// func prefetch(p *int8)
TEXT ·prefetch(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	RET

// func prefetchP(p unsafe.Pointer)
TEXT ·prefetchP(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	RET

// func scan2AVX2(codes *byte, q *int8, blocks, n int, cf *float32, bias int32, thr float32, out *uint32, ests *float32) int
//
// The flat index's scan: for each of the n code vectors of blocks·32 bytes,
// dot = Σ q[d]·c[d] with c[d] the 2-bit code of dimension d (in each block
// of 128 dimensions, bits 2k..2k+1 of byte j hold dimension 32k+j) and
// est = cf[i]·float32(2·dot + bias); the indexes i with est > thr and their
// estimates are written to out and ests, their count returned. Four vectors
// at a time (their sums reduced together), then one at a time.
TEXT ·scan2AVX2(SB), NOSPLIT, $0-72
	MOVQ codes+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ blocks+16(FP), R8
	MOVQ cf+32(FP), R10
	MOVL bias+40(FP), AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	VBROADCASTSS thr+44(FP), Y13
	MOVQ out+48(FP), R9
	MOVQ ests+56(FP), R14
	XORQ R12, R12 // i
	XORQ R13, R13 // count
	MOVL $0x03030303, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVL $0x00010001, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVQ R8, R11
	SHLQ $5, R11 // stride in bytes
quad:
	LEAQ 4(R12), AX
	CMPQ AX, n+24(FP)
	JG   single
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	MOVQ  DI, DX
	MOVQ  R8, BX
	MOVQ  SI, AX
qblk:
	PREFETCHT0 2048(AX)
	PREFETCHT0 2112(AX)
	VMOVDQU (AX), Y4
	VPAND Y15, Y4, Y5
	VPMADDUBSW (DX), Y5, Y5
	VPSRLW $2, Y4, Y6
	VPAND Y15, Y6, Y6
	VPMADDUBSW 32(DX), Y6, Y6
	VPADDW Y6, Y5, Y5
	VPSRLW $4, Y4, Y6
	VPAND Y15, Y6, Y6
	VPMADDUBSW 64(DX), Y6, Y6
	VPADDW Y6, Y5, Y5
	VPSRLW $6, Y4, Y6
	VPAND Y15, Y6, Y6
	VPMADDUBSW 96(DX), Y6, Y6
	VPADDW Y6, Y5, Y5
	VPMADDWD Y14, Y5, Y5
	VPADDD Y5, Y0, Y0
	VMOVDQU (AX)(R11*1), Y7
	VPAND Y15, Y7, Y8
	VPMADDUBSW (DX), Y8, Y8
	VPSRLW $2, Y7, Y9
	VPAND Y15, Y9, Y9
	VPMADDUBSW 32(DX), Y9, Y9
	VPADDW Y9, Y8, Y8
	VPSRLW $4, Y7, Y9
	VPAND Y15, Y9, Y9
	VPMADDUBSW 64(DX), Y9, Y9
	VPADDW Y9, Y8, Y8
	VPSRLW $6, Y7, Y9
	VPAND Y15, Y9, Y9
	VPMADDUBSW 96(DX), Y9, Y9
	VPADDW Y9, Y8, Y8
	VPMADDWD Y14, Y8, Y8
	VPADDD Y8, Y1, Y1
	VMOVDQU (AX)(R11*2), Y4
	VPAND Y15, Y4, Y5
	VPMADDUBSW (DX), Y5, Y5
	VPSRLW $2, Y4, Y6
	VPAND Y15, Y6, Y6
	VPMADDUBSW 32(DX), Y6, Y6
	VPADDW Y6, Y5, Y5
	VPSRLW $4, Y4, Y6
	VPAND Y15, Y6, Y6
	VPMADDUBSW 64(DX), Y6, Y6
	VPADDW Y6, Y5, Y5
	VPSRLW $6, Y4, Y6
	VPAND Y15, Y6, Y6
	VPMADDUBSW 96(DX), Y6, Y6
	VPADDW Y6, Y5, Y5
	VPMADDWD Y14, Y5, Y5
	VPADDD Y5, Y2, Y2
	LEAQ (AX)(R11*2), CX
	VMOVDQU (CX)(R11*1), Y7
	VPAND Y15, Y7, Y8
	VPMADDUBSW (DX), Y8, Y8
	VPSRLW $2, Y7, Y9
	VPAND Y15, Y9, Y9
	VPMADDUBSW 32(DX), Y9, Y9
	VPADDW Y9, Y8, Y8
	VPSRLW $4, Y7, Y9
	VPAND Y15, Y9, Y9
	VPMADDUBSW 64(DX), Y9, Y9
	VPADDW Y9, Y8, Y8
	VPSRLW $6, Y7, Y9
	VPAND Y15, Y9, Y9
	VPMADDUBSW 96(DX), Y9, Y9
	VPADDW Y9, Y8, Y8
	VPMADDWD Y14, Y8, Y8
	VPADDD Y8, Y3, Y3
	ADDQ $32, AX
	ADDQ $128, DX
	DECQ BX
	JNZ  qblk
	// [a b c d] = the four sums
	VPHADDD Y1, Y0, Y0
	VPHADDD Y3, Y2, Y2
	VPHADDD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSLLD $1, X0, X0
	VPADDD X12, X0, X0
	VCVTDQ2PS X0, X0
	VMULPS (R10)(R12*4), X0, X0
	VCMPPS $14, X13, X0, X1
	VMOVMSKPS X1, AX
	TESTL AX, AX
	JZ    qnext
	TESTL $1, AX
	JZ    q1
	MOVL  R12, (R9)(R13*4)
	VEXTRACTPS $0, X0, (R14)(R13*4)
	INCQ  R13
q1:
	TESTL $2, AX
	JZ    q2
	LEAQ  1(R12), BX
	MOVL  BX, (R9)(R13*4)
	VEXTRACTPS $1, X0, (R14)(R13*4)
	INCQ  R13
q2:
	TESTL $4, AX
	JZ    q3
	LEAQ  2(R12), BX
	MOVL  BX, (R9)(R13*4)
	VEXTRACTPS $2, X0, (R14)(R13*4)
	INCQ  R13
q3:
	TESTL $8, AX
	JZ    qnext
	LEAQ  3(R12), BX
	MOVL  BX, (R9)(R13*4)
	VEXTRACTPS $3, X0, (R14)(R13*4)
	INCQ  R13
qnext:
	LEAQ (SI)(R11*4), SI
	ADDQ $4, R12
	JMP  quad
single:
	CMPQ R12, n+24(FP)
	JGE  sdone
	VPXOR Y0, Y0, Y0
	MOVQ  DI, DX
	MOVQ  R8, BX
sblk:
	VMOVDQU (SI), Y1
	VPAND Y15, Y1, Y2
	VPMADDUBSW (DX), Y2, Y2
	VPSRLW $2, Y1, Y3
	VPAND Y15, Y3, Y3
	VPMADDUBSW 32(DX), Y3, Y3
	VPADDW Y3, Y2, Y2
	VPSRLW $4, Y1, Y3
	VPAND Y15, Y3, Y3
	VPMADDUBSW 64(DX), Y3, Y3
	VPADDW Y3, Y2, Y2
	VPSRLW $6, Y1, Y3
	VPAND Y15, Y3, Y3
	VPMADDUBSW 96(DX), Y3, Y3
	VPADDW Y3, Y2, Y2
	VPMADDWD Y14, Y2, Y2
	VPADDD Y2, Y0, Y0
	ADDQ $32, SI
	ADDQ $128, DX
	DECQ BX
	JNZ  sblk
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPADDD X1, X0, X0
	VPSLLD $1, X0, X0
	VPADDD X12, X0, X0
	VCVTDQ2PS X0, X0
	VMULSS (R10)(R12*4), X0, X0
	VUCOMISS X13, X0
	JBE  snext
	MOVL R12, (R9)(R13*4)
	VMOVSS X0, (R14)(R13*4)
	INCQ R13
snext:
	INCQ R12
	JMP  single
sdone:
	VZEROUPPER
	MOVQ R13, ret+64(FP)
	RET

// func scan1AVX2(codes *byte, lut *byte, rows, blocks int, f *float32, c, thr float32, out *uint32, ests *float32) int
//
// The flat index's first pass (vecfast.go): blocks of 32 vectors, each
// rows·32 bytes (row j: byte v holds vector v's nibbles 2j and 2j+1); lut
// has 64 bytes a row (nibble 2j's 16 entries twice, then nibble 2j+1's).
// S[v] = Σ_j lut[j][lo(v)] + lut[j][hi(v)]: four looked-up entries (two
// rows) are added in bytes (each ≤ 63), then into uint16 sums, the even
// bytes' in the low bytes of Y8's words (Y8 also collects the odd bytes
// times 256) and the odd bytes' in Y9. est[v] = (float(S[v]) + c)·f[v];
// the indexes v with est > thr and their estimates are written to out and
// ests (the 32 estimates of a block go through the 128-byte frame), their
// count returned. rows is even.
TEXT ·scan1AVX2(SB), NOSPLIT, $128-72
	MOVQ codes+0(FP), SI
	MOVQ lut+8(FP), DI
	MOVQ rows+16(FP), R8
	SHRQ $1, R8
	MOVQ blocks+24(FP), R11
	MOVQ f+32(FP), R10
	VBROADCASTSS c+40(FP), Y12
	VBROADCASTSS thr+44(FP), Y13
	MOVQ out+48(FP), R9
	MOVQ ests+56(FP), R14
	XORQ R12, R12 // the block's first index
	XORQ R13, R13 // count
	MOVL $0x0f0f0f0f, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
block:
	TESTQ R11, R11
	JZ    done
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	MOVQ  DI, DX
	MOVQ  R8, BX
row:
	PREFETCHT0 1024(SI)
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y4
	VPSRLW $4, Y0, Y1
	VPAND Y15, Y0, Y0
	VPAND Y15, Y1, Y1
	VPSRLW $4, Y4, Y5
	VPAND Y15, Y4, Y4
	VPAND Y15, Y5, Y5
	VMOVDQU (DX), Y2
	VPSHUFB Y0, Y2, Y0
	VMOVDQU 32(DX), Y3
	VPSHUFB Y1, Y3, Y1
	VMOVDQU 64(DX), Y6
	VPSHUFB Y4, Y6, Y4
	VMOVDQU 96(DX), Y7
	VPSHUFB Y5, Y7, Y5
	VPADDB Y1, Y0, Y0
	VPADDB Y5, Y4, Y4
	VPADDB Y4, Y0, Y0
	VPADDW Y0, Y8, Y8
	VPSRLW $8, Y0, Y0
	VPADDW Y0, Y9, Y9
	ADDQ $64, SI
	ADDQ $128, DX
	DECQ BX
	JNZ  row
	// Y8 = even sums, Y9 = odd sums (words)
	VPSLLW $8, Y9, Y10
	VPSUBW Y10, Y8, Y8
	// per lane, interleaved back in vector order: Y10 = v0..7 | v16..23,
	// Y11 = v8..15 | v24..31
	VPUNPCKLWD Y9, Y8, Y10
	VPUNPCKHWD Y9, Y8, Y11
	VPMOVZXWD X10, Y0
	VPMOVZXWD X11, Y1
	VEXTRACTI128 $1, Y10, X2
	VPMOVZXWD X2, Y2
	VEXTRACTI128 $1, Y11, X3
	VPMOVZXWD X3, Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VADDPS Y12, Y0, Y0
	VADDPS Y12, Y1, Y1
	VADDPS Y12, Y2, Y2
	VADDPS Y12, Y3, Y3
	VMULPS (R10), Y0, Y0
	VMULPS 32(R10), Y1, Y1
	VMULPS 64(R10), Y2, Y2
	VMULPS 96(R10), Y3, Y3
	VCMPPS $14, Y13, Y0, Y4
	VCMPPS $14, Y13, Y1, Y5
	VCMPPS $14, Y13, Y2, Y6
	VCMPPS $14, Y13, Y3, Y7
	VORPS Y5, Y4, Y10
	VORPS Y7, Y6, Y11
	VORPS Y11, Y10, Y10
	VPTEST Y10, Y10
	JZ     next
	VMOVUPS Y0, 0(SP)
	VMOVUPS Y1, 32(SP)
	VMOVUPS Y2, 64(SP)
	VMOVUPS Y3, 96(SP)
	VMOVMSKPS Y4, AX
	VMOVMSKPS Y5, BX
	SHLL $8, BX
	ORL  BX, AX
	VMOVMSKPS Y6, BX
	SHLL $16, BX
	ORL  BX, AX
	VMOVMSKPS Y7, BX
	SHLL $24, BX
	ORL  BX, AX
	LEAQ 0(SP), DX
bits:
	BSFL AX, CX
	LEAQ (R12)(CX*1), BX
	MOVL BX, (R9)(R13*4)
	MOVL (DX)(CX*4), BX
	MOVL BX, (R14)(R13*4)
	INCQ R13
	LEAL -1(AX), BX
	ANDL BX, AX
	JNZ  bits
next:
	ADDQ $128, R10
	ADDQ $32, R12
	DECQ R11
	JMP  block
done:
	VZEROUPPER
	MOVQ R13, ret+64(FP)
	RET

// func scan2ListAVX2(codes *byte, q *int8, blocks int, cf *float32, idx *uint32, n int, bias int32, thr float32, out *uint32, ests *float32) int
//
// scan2AVX2's estimate for the n code vectors idx[0..n) of codes (blocks·32
// bytes each), one at a time: the flat index's 1-bit candidates, whose
// codes prefetchList asked for before.
TEXT ·scan2ListAVX2(SB), NOSPLIT, $0-80
	MOVQ codes+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ blocks+16(FP), R8
	MOVQ cf+24(FP), R10
	MOVQ idx+32(FP), R11
	MOVL bias+48(FP), AX
	VMOVD AX, X12
	VMOVSS thr+52(FP), X13
	MOVQ out+56(FP), R9
	MOVQ ests+64(FP), R14
	MOVL $0x03030303, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVL $0x00010001, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVQ R8, BX
	SHLQ $5, BX // stride in bytes
	XORQ R12, R12 // k
	XORQ R13, R13 // count
lloop:
	CMPQ R12, n+40(FP)
	JGE  ldone
	MOVL (R11)(R12*4), AX
	MOVQ AX, CX
	IMULQ BX, CX
	ADDQ SI, CX
	MOVQ DI, DX
	MOVQ R8, AX
	VPXOR Y0, Y0, Y0
lblk:
	VMOVDQU (CX), Y1
	VPAND Y15, Y1, Y2
	VPMADDUBSW (DX), Y2, Y2
	VPSRLW $2, Y1, Y3
	VPAND Y15, Y3, Y3
	VPMADDUBSW 32(DX), Y3, Y3
	VPADDW Y3, Y2, Y2
	VPSRLW $4, Y1, Y3
	VPAND Y15, Y3, Y3
	VPMADDUBSW 64(DX), Y3, Y3
	VPADDW Y3, Y2, Y2
	VPSRLW $6, Y1, Y3
	VPAND Y15, Y3, Y3
	VPMADDUBSW 96(DX), Y3, Y3
	VPADDW Y3, Y2, Y2
	VPMADDWD Y14, Y2, Y2
	VPADDD Y2, Y0, Y0
	ADDQ $32, CX
	ADDQ $128, DX
	DECQ AX
	JNZ  lblk
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPADDD X1, X0, X0
	VPSLLD $1, X0, X0
	VPADDD X12, X0, X0
	VCVTDQ2PS X0, X0
	MOVL (R11)(R12*4), AX
	VMULSS (R10)(AX*4), X0, X0
	VUCOMISS X13, X0
	JBE  lnext
	MOVL AX, (R9)(R13*4)
	VMOVSS X0, (R14)(R13*4)
	INCQ R13
lnext:
	INCQ R12
	JMP  lloop
ldone:
	VZEROUPPER
	MOVQ R13, ret+72(FP)
	RET

// func prefetchListAsm(codes *byte, stride int, cf *float32, idx *uint32, n int)
TEXT ·prefetchListAsm(SB), NOSPLIT, $0-40
	MOVQ codes+0(FP), SI
	MOVQ stride+8(FP), BX
	MOVQ cf+16(FP), R10
	MOVQ idx+24(FP), R11
	MOVQ n+32(FP), CX
	XORQ R12, R12
ploop:
	CMPQ R12, CX
	JGE  pdone
	MOVL (R11)(R12*4), AX
	PREFETCHT0 (R10)(AX*4)
	IMULQ BX, AX
	PREFETCHT0 (SI)(AX*1)
	INCQ R12
	JMP  ploop
pdone:
	RET
