"""After fine-tuning: classifying new texts with any saved run, and exporting int8 and ONNX variants."""
