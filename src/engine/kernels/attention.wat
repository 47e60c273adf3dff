;; Attention forward for the WASM backend in WebAssembly SIMD (kernels/wasm-attention.ts): the
;; loop of kernels/wasm-loops.ts (attentionLoop), same layout and the same masked-key rules, with
;; the products four lanes at a time. It reads and writes tfjs's own heap (the memory is tfjs's,
;; imported), so no tensor is copied. Built into wasm-attention-binary.ts by
;; scripts/build-wasm-kernels.ts; a test checks the two agree.
;;
;;   q [B, nh, T, hd], k and v [B, nkv, S, hd], bias [B, bh, T, S] (bh = 1 or nh)
;;   → o [B, nh, T, hd] and p [B * nkv, (nh / nkv) * T, S], p the probabilities (kept for the
;;     backward pass); hd a multiple of 4. idx: room for S int32 (scratch: the columns of one
;;     query's unmasked keys, so the softmax and p · v visit only those). Pointers are byte
;;     offsets into the heap.
(module
  (import "env" "memory" (memory 1))
  (import "math" "exp" (func $exp (param f64) (result f64)))
  ;; q·k · scale + bias for one query row and one key row (rowBytes bytes each), four lanes at a
  ;; time. Only for a query whose keys are all masked: the scores loop below has the same
  ;; arithmetic inline, since calling this there (or one loop for both cases) cost V8 a fifth of a
  ;; packed batch's attention (in Node, 8 sequences in one row of 320 keys: 65 against 80 us a call).
  (func $score (param $qRow i32) (param $kRow i32) (param $rowBytes i32) (param $scale f32) (param $bv f32) (result f32)
    (local $acc v128) (local $d i32)
    (local.set $acc (v128.const f32x4 0 0 0 0))
    (block $dDone (loop $dLoop
      (br_if $dDone (i32.ge_u (local.get $d) (local.get $rowBytes)))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
        (v128.load (i32.add (local.get $qRow) (local.get $d)))
        (v128.load (i32.add (local.get $kRow) (local.get $d))))))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (br $dLoop)))
    (f32.add (f32.mul (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))
      (local.get $scale)) (local.get $bv)))
  (func (export "attention")
    (param $q i32) (param $k i32) (param $v i32) (param $bias i32) (param $o i32) (param $p i32)
    (param $B i32) (param $nh i32) (param $nkv i32) (param $T i32) (param $S i32) (param $hd i32)
    (param $bh i32) (param $scale f32) (param $idx i32)
    (local $group i32) (local $b i32) (local $h i32) (local $t i32) (local $s i32) (local $d i32)
    (local $kvh i32) (local $kBase i32) (local $pRow i32) (local $biasRow i32) (local $qRow i32)
    (local $kRow i32) (local $bv f32) (local $score f32) (local $max f32)
    (local $acc v128) (local $total f64) (local $e f64) (local $inv f64) (local $ps f32)
    (local $psv v128) (local $rowBytes i32) (local $n i32) (local $j i32) (local $cell i32)
    (local.set $group (i32.div_u (local.get $nh) (local.get $nkv)))
    (local.set $rowBytes (i32.shl (local.get $hd) (i32.const 2)))
    (local.set $b (i32.const 0))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $h (i32.const 0))
      (block $hDone (loop $hLoop
        (br_if $hDone (i32.ge_u (local.get $h) (local.get $nh)))
        ;; kv head of query head h; its keys and values start at kBase
        (local.set $kvh (i32.add (i32.mul (local.get $b) (local.get $nkv)) (i32.div_u (local.get $h) (local.get $group))))
        (local.set $kBase (i32.mul (i32.mul (local.get $kvh) (local.get $S)) (local.get $rowBytes)))
        (local.set $t (i32.const 0))
        (block $tDone (loop $tLoop
          (br_if $tDone (i32.ge_u (local.get $t) (local.get $T)))
          ;; byte offsets of this query row, its probabilities and its bias row
          (local.set $qRow (i32.add (local.get $q) (i32.mul
            (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $nh)) (local.get $h)) (local.get $T)) (local.get $t))
            (local.get $rowBytes))))
          (local.set $pRow (i32.add (local.get $p) (i32.shl (i32.mul
            (i32.add (i32.mul (i32.add (i32.mul (local.get $kvh) (local.get $group)) (i32.rem_u (local.get $h) (local.get $group))) (local.get $T)) (local.get $t))
            (local.get $S)) (i32.const 2))))
          (local.set $biasRow (i32.add (local.get $bias) (i32.shl (i32.mul
            (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $bh)) (select (i32.const 0) (local.get $h) (i32.eq (local.get $bh) (i32.const 1)))) (local.get $T)) (local.get $t))
            (local.get $S)) (i32.const 2))))
          ;; scores of the unmasked keys, their columns listed in idx; a masked key's probability is 0
          ;; (its real score would underflow exp to 0), so it is written once and never read again
          ;; (a packed serving batch masks most of its keys for each query)
          (local.set $max (f32.const -inf))
          (local.set $n (i32.const 0))
          (local.set $s (i32.const 0))
          (block $sDone (loop $sLoop
            (br_if $sDone (i32.ge_u (local.get $s) (local.get $S)))
            (local.set $bv (f32.load (i32.add (local.get $biasRow) (i32.shl (local.get $s) (i32.const 2)))))
            (if (f32.le (local.get $bv) (f32.const -1e29))
              (then
                (f32.store (i32.add (local.get $pRow) (i32.shl (local.get $s) (i32.const 2))) (f32.const 0)))
              (else
                (i32.store (i32.add (local.get $idx) (i32.shl (local.get $n) (i32.const 2))) (local.get $s))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                ;; q·k four lanes at a time, as $score
                (local.set $kRow (i32.add (local.get $k) (i32.add (local.get $kBase) (i32.mul (local.get $s) (local.get $rowBytes)))))
                (local.set $acc (v128.const f32x4 0 0 0 0))
                (local.set $d (i32.const 0))
                (block $dDone (loop $dLoop
                  (br_if $dDone (i32.ge_u (local.get $d) (local.get $rowBytes)))
                  (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
                    (v128.load (i32.add (local.get $qRow) (local.get $d)))
                    (v128.load (i32.add (local.get $kRow) (local.get $d))))))
                  (local.set $d (i32.add (local.get $d) (i32.const 16)))
                  (br $dLoop)))
                (local.set $score (f32.add (f32.mul (f32.add
                  (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                  (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))
                  (local.get $scale)) (local.get $bv)))
                (f32.store (i32.add (local.get $pRow) (i32.shl (local.get $s) (i32.const 2))) (local.get $score))
                (local.set $max (f32.max (local.get $max) (local.get $score)))))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $sLoop)))
          ;; every key masked? then, as in the plain softmax, their real scores decide
          (if (i32.eqz (local.get $n))
            (then
              (local.set $s (i32.const 0))
              (block $aDone (loop $aLoop
                (br_if $aDone (i32.ge_u (local.get $s) (local.get $S)))
                (i32.store (i32.add (local.get $idx) (i32.shl (local.get $s) (i32.const 2))) (local.get $s))
                (local.set $score (call $score (local.get $qRow) (i32.add (local.get $k) (i32.add (local.get $kBase) (i32.mul (local.get $s) (local.get $rowBytes)))) (local.get $rowBytes) (local.get $scale)
                  (f32.load (i32.add (local.get $biasRow) (i32.shl (local.get $s) (i32.const 2))))))
                (f32.store (i32.add (local.get $pRow) (i32.shl (local.get $s) (i32.const 2))) (local.get $score))
                (local.set $max (f32.max (local.get $max) (local.get $score)))
                (local.set $s (i32.add (local.get $s) (i32.const 1)))
                (br $aLoop)))
              (local.set $n (local.get $S))))
          ;; softmax over the listed keys, the sum in double precision as in the loop
          (local.set $total (f64.const 0))
          (local.set $j (i32.const 0))
          (block $eDone (loop $eLoop
            (br_if $eDone (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $cell (i32.add (local.get $pRow) (i32.shl (i32.load (i32.add (local.get $idx) (i32.shl (local.get $j) (i32.const 2)))) (i32.const 2))))
            (local.set $e (call $exp (f64.sub (f64.promote_f32 (f32.load (local.get $cell))) (f64.promote_f32 (local.get $max)))))
            (f32.store (local.get $cell) (f32.demote_f64 (local.get $e)))
            (local.set $total (f64.add (local.get $total) (local.get $e)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $eLoop)))
          (local.set $inv (f64.div (f64.const 1) (local.get $total)))
          ;; o = p · v (the output is new memory: cleared first)
          (local.set $d (i32.const 0))
          (block $zDone (loop $zLoop
            (br_if $zDone (i32.ge_u (local.get $d) (local.get $rowBytes)))
            (v128.store (i32.add (i32.add (local.get $o) (i32.sub (local.get $qRow) (local.get $q))) (local.get $d)) (v128.const f32x4 0 0 0 0))
            (local.set $d (i32.add (local.get $d) (i32.const 16)))
            (br $zLoop)))
          (local.set $j (i32.const 0))
          (block $vDone (loop $vLoop
            (br_if $vDone (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $s (i32.load (i32.add (local.get $idx) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $cell (i32.add (local.get $pRow) (i32.shl (local.get $s) (i32.const 2))))
            (local.set $ps (f32.demote_f64 (f64.mul (f64.promote_f32 (f32.load (local.get $cell))) (local.get $inv))))
            (f32.store (local.get $cell) (local.get $ps))
            (if (f32.ne (local.get $ps) (f32.const 0))
              (then
                (local.set $psv (f32x4.splat (local.get $ps)))
                (local.set $kRow (i32.add (local.get $v) (i32.add (local.get $kBase) (i32.mul (local.get $s) (local.get $rowBytes)))))
                (local.set $d (i32.const 0))
                (block $pvDone (loop $pvLoop
                  (br_if $pvDone (i32.ge_u (local.get $d) (local.get $rowBytes)))
                  (v128.store (i32.add (i32.add (local.get $o) (i32.sub (local.get $qRow) (local.get $q))) (local.get $d))
                    (f32x4.add
                      (v128.load (i32.add (i32.add (local.get $o) (i32.sub (local.get $qRow) (local.get $q))) (local.get $d)))
                      (f32x4.mul (local.get $psv) (v128.load (i32.add (local.get $kRow) (local.get $d))))))
                  (local.set $d (i32.add (local.get $d) (i32.const 16)))
                  (br $pvLoop)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $vLoop)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $tLoop)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $hLoop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop)))))
