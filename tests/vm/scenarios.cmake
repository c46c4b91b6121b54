# VM scenarios run by CTest: iiousb_vm_test(test-name scenario [run.sh options...])
iiousb_vm_test(smoke smoke)
