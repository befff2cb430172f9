#include "common/main.hpp"

#include "csp_channel_per_writer/server.hpp"

int main(int argc, char** argv) {
    return common::run_main<csp_channel_per_writer::server>(argc, argv);
}
