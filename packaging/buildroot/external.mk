include $(sort $(wildcard $(BR2_EXTERNAL_IIOUSB_PATH)/package/*/*.mk))
