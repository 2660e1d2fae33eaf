// dagrad data: dataset readers (IDX, CIFAR-10), minibatches, preprocessing, augmentation.
#pragma once
#include "dagrad/data/cifar.h"
#include "dagrad/data/idx.h"
#include "dagrad/data/loader.h"
#include "dagrad/data/preprocess.h"
