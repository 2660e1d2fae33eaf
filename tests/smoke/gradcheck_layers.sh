# gradcheck-layers checks every layer and model gradient in float64; it exits 1 on any failure.
set -e
log=$("$1/examples/gradcheck-layers")
echo "$log"
echo "$log" | grep -q "0 failed, 0 errors"
echo "$log" | grep -q "^all gradients ok"
# The tour really covers the models, not just the layers.
for m in TwoLayerNet FullyConnectedNet ThreeLayerConvNet BinaryClassifier SoftmaxClassifier \
         LeNet5 VGGNet SmallResNet ResidualBlock BatchNorm2d BatchNormReLU2d LayerNorm Dropout; do
  echo "$log" | grep -q "^$m" || { echo "missing check: $m" >&2; exit 1; }
done
