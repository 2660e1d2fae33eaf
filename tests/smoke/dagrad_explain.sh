# dagrad-explain on the course's homework function: values, tables, the Jacobian three ways
# agreeing to what each method allows, the graph written, and clean errors for bad input.
set -e
bin="$1/tools/dagrad-explain"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
hw='f1 = exp(exp(w1)+exp(w2)) + sin(exp(w1)+exp(w2)); f2 = w1*w2 + sigmoid(w1)'
log=$("$bin" "$hw" --at w1=1,w2=2 --dot "$out/hw.dot" --svg "$out/hw.svg" --html "$out/hw.html")
echo "$log"
# df2/dw1 = w2 + s(1-s) at w1 = 1: 2.196611933; df1/dw2 = 181190.8698
echo "$log" | grep -qE "^    f2 +2\.196611933 +1$"
echo "$log" | grep -qE "^    f1 +66656\.39592 +181190\.8698$"
err() { echo "$log" | awk -v k="$1" '$0 ~ k {print $NF}'; }
awk -v e="$(err 'forward vs reverse')" 'BEGIN { exit !(e < 1e-15) }'
awk -v e="$(err 'forward vs numerical')" 'BEGIN { exit !(e < 1e-6) }'   # central, h = 1e-6
grep -q "'f1'" "$out/hw.dot"
grep -q "<svg" "$out/hw.svg"
grep -q '"label":"f1","order":\[' "$out/hw.html"
# The course's numbers: one-sided differences with h = 0.01 are off by about h |f''| / 2.
log=$("$bin" "$hw" --at w1=1,w2=2 --h 0.01 --one-sided)
echo "$log" | grep -qE "^    f1 +67914\.3018 +189032\.2573$"
awk -v e="$(err 'forward vs numerical')" 'BEGIN { exit !(e > 1e-3 && e < 5e-2) }'
# Vectors and matrices.
"$bin" 'f = x @ A @ x + sum(exp(x))' --at 'x=[1,2],A=[[1,2],[3,4]]' | grep -qE "^    f +14\.71828183 +28\.3890561 +1 +2 +2 +4$"
# Bad input: a caret under the column, the missing input named, exit code 1 or 2.
set +e
msg=$("$bin" 'f = (x + ' --at x=1 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ]
echo "$msg" | grep -q "at column 10"
echo "$msg" | grep -qE "^           \^$"
set +e
msg=$("$bin" 'f = x*y' --at x=1 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ]
echo "$msg" | grep -q "no value for input 'y'"
set +e
msg=$("$bin" 'f = 2 * log(x - 5)' --at x=1 --anomaly 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ]
echo "$msg" | grep -q "anomaly: 'log(x - 5)' (op log) is the first step with a non-finite value"
set +e
"$bin" 'f = x' > /dev/null 2>&1; rc=$?
set -e
[ "$rc" -eq 1 ]
echo "dagrad-explain: ok"
