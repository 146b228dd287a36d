#include "go_asm.h"
#include "textflag.h"

// func crossEntries(window *[winBytes]byte, es []bucketEntry, win uint64, buckets *[maxBuckets]bucket, mask uint64) int
//
// For each entry e = off | k<<offBits | a<<32 (see bucketEntry): st =
// bigSteps[k]; window[off] |= byte(st); off += a·gap + corr; park
// a<<32 | next<<offBits | off mod winBytes in bucket (win + off/winBytes) &
// mask, unless that bucket is full: then stop there, before parking.
TEXT ·crossEntries(SB), NOSPLIT, $0-64
	MOVQ window+0(FP), DI
	MOVQ es_base+8(FP), DX
	MOVQ es_len+16(FP), CX
	MOVQ win+32(FP), BX
	MOVQ buckets+40(FP), AX
	MOVQ mask+48(FP), R12
	LEAQ ·bigSteps(SB), R11
	LEAQ (DX)(CX*8), CX // the end of es
	MOVQ DX, SI

loop:
	CMPQ SI, CX
	JAE  done
	MOVQ (SI), R8 // e
	MOVQ R8, R9
	ANDQ $(const_winBytes-1), R9 // off
	MOVQ R8, R10
	SHRQ $const_offBits, R10
	ANDQ $0xFFF, R10
	MOVL (R11)(R10*4), R10 // st
	ORB  R10, (DI)(R9*1)
	MOVQ R8, R13
	SHRQ $32, R13 // a
	MOVL R10, R8
	SHRL $const_stepGap, R8
	ANDL $15, R8
	IMULQ R13, R8
	ADDQ R8, R9
	MOVL R10, R8
	SHRL $const_stepCorr, R8
	ANDL $15, R8
	ADDQ R8, R9 // the next multiple's offset from the window
	SHRL $const_stepNext, R10
	SHLQ $const_offBits, R10
	SHLQ $32, R13
	ORQ  R13, R10
	MOVQ R9, R8
	ANDQ $(const_winBytes-1), R8
	ORQ  R8, R10 // the entry parked
	SHRQ $const_winShift, R9
	ADDQ BX, R9
	ANDQ R12, R9
	IMULQ $bucket__size, R9
	ADDQ AX, R9 // its bucket
	MOVQ bucket_n(R9), R8
	CMPQ R8, $const_bucketBlock
	JEQ  done
	MOVQ bucket_cur(R9), R13
	MOVQ R10, (R13)(R8*8)
	INCQ R8
	MOVQ R8, bucket_n(R9)
	ADDQ $8, SI
	JMP  loop

done:
	SUBQ DX, SI
	SHRQ $3, SI
	MOVQ SI, ret+56(FP)
	RET
