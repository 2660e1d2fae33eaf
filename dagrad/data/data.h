// dagrad data: dataset readers (IDX, CIFAR-10), minibatches, preprocessing, images and plots.
#pragma once
#include "dagrad/data/cifar.h"
#include "dagrad/data/idx.h"
#include "dagrad/data/image.h"
#include "dagrad/data/loader.h"
#include "dagrad/data/plot.h"
#include "dagrad/data/preprocess.h"
